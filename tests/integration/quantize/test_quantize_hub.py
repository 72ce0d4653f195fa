"""A Hub repo id as the source: its safetensors and tokenizer files come through the download machinery
(the real huggingface_hub client against the fake Hub), pickles are never fetched, then convert + quantize."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakehub.repo import FakeRepo
from tests.fakehub.server import FakeHub
from tests.support.models import REPO_ROOT
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow


def test_quantize_from_a_hub_repo(fake_hub_empty: FakeHub, tmp_path: Path) -> None:
    folder = make_tiny_hf(tmp_path / "src", "llama2")
    repo = fake_hub_empty.add_repo(FakeRepo("tiny-org/tiny-llama"))
    for f in sorted(folder.iterdir()):
        repo.add_file(f.name, f, lfs=f.suffix == ".safetensors")
    repo.add_file("pytorch_model.bin", b"a pickle that must never be downloaded", lfs=True)
    result = subprocess.run(
        [sys.executable, "-m", "app", "quantize", "tiny-org/tiny-llama", "Q8_0"],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = Path(result.stdout.strip())
    models = Path(os.environ["GGUF_STUDIO_HOME"]) / "data" / "models" / "tiny-org" / "tiny-llama"
    assert out == models / "tiny-llama-Q8_0.gguf" and out.exists()
    assert (models / "tokenizer.model").exists() and (models / "model.safetensors").exists()
    assert not (models / "pytorch_model.bin").exists()
