"""`gguf-studio quantize` never rewrites a file unasked, writes into the models folder by default and removes
the intermediate F16 unless --keep-f16 (issue 16, item 7), through the real entry point."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import cli
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow


def test_a_second_run_is_refused_unless_overwrite_and_the_f16_goes(tmp_path: Path) -> None:
    folder = make_tiny_hf(tmp_path / "elsewhere" / "llama3", "llama3")
    first = cli.run_cli("quantize", str(folder), "Q8_0", timeout=300)
    assert first.returncode == 0, first.stderr
    models = Path(os.environ["GGUF_STUDIO_HOME"]) / "data" / "models"
    out = models / "local" / "llama3"
    assert Path(first.stdout.strip()) == out / "llama3-Q8_0.gguf"
    assert sorted(p.name for p in out.iterdir()) == ["llama3-Q8_0.gguf"]  # the F16 was only a means
    assert not [p for p in folder.iterdir() if p.suffix == ".gguf"]  # nothing beside the source

    quant = out / "llama3-Q8_0.gguf"
    quant.write_bytes(b"an earlier quant")
    again = cli.run_cli("quantize", str(folder), "Q8_0", timeout=300)
    assert again.returncode == 1 and "llama3-Q8_0.gguf already exists" in again.stderr, again.stderr
    assert "--overwrite" in again.stderr and len(again.stderr.strip().splitlines()) == 1  # one line, with a hint
    assert quant.read_bytes() == b"an earlier quant"

    kept = cli.run_cli("quantize", str(folder), "Q8_0", "--overwrite", "--keep-f16", timeout=300)
    assert kept.returncode == 0, kept.stderr
    assert quant.read_bytes() != b"an earlier quant"
    assert sorted(p.name for p in out.iterdir()) == ["llama3-F16.gguf", "llama3-Q8_0.gguf"]


def test_an_already_quantized_source_is_flagged_before_the_job(gemma_model: Path, tmp_path: Path) -> None:
    earlier = tmp_path / f"{gemma_model.stem}-Q8_0.gguf"
    earlier.write_bytes(b"an earlier quant")
    result = cli.run_cli("quantize", str(gemma_model), "Q8_0", "--out-dir", str(tmp_path), timeout=300)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("warning: ") and "is already quantized" in lines[0], lines  # said first
    assert "already exists" in result.stderr and earlier.read_bytes() == b"an earlier quant"
