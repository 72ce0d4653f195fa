"""A Hub repository of safetensors says whether GGUF Studio converts it before anything is downloaded
(issue 14, item 5): `gguf-studio files REPO` reads config.json alone, never a weight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.quantize.source import repo_convertibility
from tests.fakehub.repo import FakeRepo
from tests.fakehub.server import FakeHub
from tests.support.cli import run_cli
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow


def _safetensors_repo(hub: FakeHub, repo_id: str, folder: Path) -> None:
    repo = hub.add_repo(FakeRepo(repo_id, tags=["safetensors"], library_name="transformers"))
    for f in sorted(folder.iterdir()):
        repo.add_file(f.name, f, lfs=f.suffix == ".safetensors")


def _weights_requested(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests if r.path.endswith((".safetensors", ".bin"))]


def test_a_convertible_repo_is_said_so_from_its_config_alone(fake_hub_empty: FakeHub, tmp_path: Path) -> None:
    _safetensors_repo(fake_hub_empty, "tiny-org/tiny-qwen3", make_tiny_hf(tmp_path / "src", "qwen3"))
    result = run_cli("files", "tiny-org/tiny-qwen3")
    assert result.returncode == 1  # still no GGUF to download
    assert "GGUF Studio converts it (Qwen3, Qwen3ForCausalLM)" in result.stderr, result.stderr
    assert "gguf-studio quantize tiny-org/tiny-qwen3 Q4_K_M" in result.stderr
    report = json.loads(run_cli("files", "tiny-org/tiny-qwen3", "--json").stdout)
    assert report["convertible"] is True and report["architecture"] == "Qwen3ForCausalLM"
    assert fake_hub_empty.requests_for("config.json")  # what the verdict came from
    assert _weights_requested(fake_hub_empty) == []


def test_an_unsupported_repo_is_refused_before_any_download(fake_hub_empty: FakeHub, tmp_path: Path) -> None:
    folder = tmp_path / "falcon"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["FalconForCausalLM"], "model_type": "falcon"}))
    (folder / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    _safetensors_repo(fake_hub_empty, "tiiuae/falcon-tiny", folder)
    result = run_cli("files", "tiiuae/falcon-tiny", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["convertible"] is False and report["quantize_command"] is None
    assert "FalconForCausalLM is not supported for conversion" in report["reason"]
    assert "convert_hf_to_gguf.py" in report["reason"]  # the way out
    assert _weights_requested(fake_hub_empty) == []


def test_a_repo_without_config_is_no_transformers_model(fake_hub_empty: FakeHub) -> None:
    repo = fake_hub_empty.add_repo(FakeRepo("someone/weights-only"))
    repo.add_file("model.safetensors", b"\x02\x00\x00\x00\x00\x00\x00\x00{}", lfs=True)
    verdict = repo_convertibility("someone/weights-only")
    assert verdict.convertible is False and "no config.json" in verdict.message
    assert _weights_requested(fake_hub_empty) == []
