"""Discover's detail pane says whether a safetensors repository converts, before anything is downloaded,
and leads to the Quantize page (issue 14, item 5), against the fake Hub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.settings import Settings
from app.ui.context import AppContext
from app.ui.pages.discover_detail import QUANTIZE, DetailPane
from tests.fakehub.repo import FakeRepo
from tests.fakehub.server import FakeHub
from tests.support.shots import save_shot
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow


@pytest.fixture
def visits() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def pane(qtbot: Any, tmp_path: Path, visits: list[tuple[str, dict[str, Any]]]) -> Iterator[DetailPane]:
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "models"))
    ctx = AppContext.create(settings, navigate=lambda name, **kw: visits.append((name, kw)))
    widget = DetailPane(ctx)
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    yield widget
    ctx.shutdown()


def _repo(hub: FakeHub, repo_id: str, folder: Path) -> None:
    repo = hub.add_repo(FakeRepo(repo_id, tags=["safetensors"], library_name="transformers"))
    for f in sorted(folder.iterdir()):
        repo.add_file(f.name, f, lfs=f.suffix == ".safetensors")


def _weights_requested(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests if r.path.endswith(".safetensors")]


def test_a_convertible_repo_offers_quantize(
    qtbot: Any, pane: DetailPane, fake_hub_empty: FakeHub, tmp_path: Path, visits: list[Any]
) -> None:
    _repo(fake_hub_empty, "tiny-org/tiny-qwen3", make_tiny_hf(tmp_path / "src", "qwen3"))
    pane.show_repo("tiny-org/tiny-qwen3")
    qtbot.waitUntil(lambda: "converts it" in pane.notice.text(), timeout=20_000)
    assert "Qwen3ForCausalLM" in pane.notice.text() and "Quantize it" in pane.notice.text()
    save_shot(pane, "quantize-discover-convertible")
    pane.notice.linkActivated.emit(QUANTIZE)
    assert visits == [("quantize", {"model": "tiny-org/tiny-qwen3"})]
    assert _weights_requested(fake_hub_empty) == []


def test_an_unsupported_repo_says_so_before_any_download(
    qtbot: Any, pane: DetailPane, fake_hub_empty: FakeHub, tmp_path: Path
) -> None:
    folder = tmp_path / "falcon"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["FalconForCausalLM"]}))
    (folder / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    _repo(fake_hub_empty, "tiiuae/falcon-tiny", folder)
    pane.show_repo("tiiuae/falcon-tiny")
    qtbot.waitUntil(lambda: "cannot convert" in pane.notice.text(), timeout=20_000)
    assert "FalconForCausalLM" in pane.notice.text() and "convert_hf_to_gguf.py" in pane.notice.text()
    assert "Quantize it" not in pane.notice.text()
    assert _weights_requested(fake_hub_empty) == []
