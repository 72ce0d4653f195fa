"""The library changes only when the user changes it (#16 item 2): a finished quantize lists its quants, not
the folder around them; a new models folder is applied only after the models there are moved or kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.settings import Settings
from app.library.scan import scan_library
from app.quantize.events import Output
from app.quantize.pipeline import QuantizeSpec
from app.quantize.quality_file import sidecar_path
from app.ui.context import AppContext
from app.ui.models.quantize_jobs import JobRow
from app.ui.pages import settings as settings_page
from app.ui.pages.quantize import QuantizePage
from app.ui.pages.settings import KEEP, MOVE, SettingsPage
from tests.support.quality import save_score
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


def _model(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiny_gguf(path, TinySpec(name=name))


def _listed(settings: Settings) -> list[str]:
    folders = [settings.models_path(), *(Path(f) for f in settings.values.library_folders)]
    return sorted(e.name for e in scan_library(folders))


def test_a_finished_quantize_lists_its_quants_not_their_folder(quantize_page: QuantizePage, tmp_path: Path) -> None:
    out = tmp_path / "work"
    quant = _model(out / "gemma-Q8_0.gguf", "Fresh Quant")
    _model(out / "unrelated-F32.gguf", "Unrelated")
    _model(out / "sub" / "copy-Q8_0.gguf", "Copy In A Subfolder")
    settings = quantize_page.ctx.settings
    spec = QuantizeSpec(source=tmp_path / "gemma.gguf", targets=("Q8_0",), out_dir=out)
    output = Output("quant", quant, quant.stat().st_size, "Q8_0")
    quantize_page.jobs.job_ended.emit(JobRow(1, spec, status="done", outputs=(output,)))
    assert settings.values.library_folders == ()
    assert _listed(settings) == ["Fresh Quant"]
    # The same job's end heard twice, or a quant already inside the library, adds nothing.
    quantize_page.jobs.job_ended.emit(JobRow(2, spec, status="done", outputs=(output,)))
    assert _listed(settings) == ["Fresh Quant"]


@pytest.fixture
def settings_ctx(tmp_path: Path) -> Iterator[AppContext]:
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "old-models"))
    ctx = AppContext.create(settings)
    yield ctx
    ctx.shutdown()


@pytest.fixture
def page(qtbot: Any, settings_ctx: AppContext) -> SettingsPage:
    widget = SettingsPage(settings_ctx)
    qtbot.addWidget(widget)
    return widget


def _answer(monkeypatch: pytest.MonkeyPatch, choice: str | None) -> list[Path]:
    asked: list[Path] = []

    def answer(_parent: object, old: Path, new: Path, contents: object) -> str | None:
        asked.append(old)
        return choice

    monkeypatch.setattr(settings_page, "ask_models_dir_change", answer)
    return asked


def _change(qtbot: Any, page: SettingsPage, new: Path) -> None:
    with qtbot.waitSignal(page.models_dir_settled, timeout=10_000):
        page.models_dir.setText(str(new))
        page.models_dir.editingFinished.emit()


def test_keeping_the_models_leaves_them_listed(
    qtbot: Any, page: SettingsPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old-models"
    _model(old / "pub" / "Repo-GGUF" / "A-Q8_0.gguf", "Downloaded Before")
    asked = _answer(monkeypatch, KEEP)
    _change(qtbot, page, tmp_path / "new-models")
    settings = page.ctx.settings
    assert asked == [old]
    assert settings.models_path() == tmp_path / "new-models"
    assert settings.values.library_folders == (str(old),)
    assert page.library_folders.item(0).text() == str(old)
    assert _listed(settings) == ["Downloaded Before"]


def test_moving_the_models_takes_their_scores_along(
    qtbot: Any, page: SettingsPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = tmp_path / "old-models", tmp_path / "new-models"
    model = _model(old / "pub" / "Repo-GGUF" / "A-Q8_0.gguf", "Downloaded Before")
    save_score(model, tmp_path / "src.bin", kld=0.01, agree=0.9, quant_type="Q8_0")
    (old / "pub" / "Repo-GGUF" / "B-Q4_K_M.gguf.part").write_bytes(b"half")  # a download under way stays
    _answer(monkeypatch, MOVE)
    _change(qtbot, page, new)
    settings = page.ctx.settings
    assert settings.models_path() == new and settings.values.library_folders == ()
    moved = new / "pub" / "Repo-GGUF" / "A-Q8_0.gguf"
    assert moved.is_file() and sidecar_path(moved).is_file() and not model.exists()
    assert _listed(settings) == ["Downloaded Before"]
    assert scan_library([new])[0].quality is not None


def test_cancel_changes_nothing(
    qtbot: Any, page: SettingsPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "old-models"
    _model(old / "A-Q8_0.gguf", "Downloaded Before")
    _answer(monkeypatch, None)
    _change(qtbot, page, tmp_path / "new-models")
    assert page.ctx.settings.models_path() == old and page.models_dir.text() == str(old)


def test_an_empty_models_folder_changes_without_a_question(
    qtbot: Any, page: SettingsPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _answer(monkeypatch, None)
    _change(qtbot, page, tmp_path / "new-models")
    assert asked == [] and page.ctx.settings.models_path() == tmp_path / "new-models"
