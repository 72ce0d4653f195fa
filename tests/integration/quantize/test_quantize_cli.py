"""`gguf-studio convert`, `imatrix` and `quantize` through the real entry point in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import cli
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return cli.run_cli(*args, timeout=timeout)


def test_convert_imatrix_quantize_chain(tmp_path: Path) -> None:
    folder = make_tiny_hf(tmp_path / "mistral", "mistral")
    result = run_cli("convert", str(folder), "--outtype", "q8_0")
    assert result.returncode == 0, result.stderr
    gguf_path = Path(result.stdout.strip())
    assert gguf_path == folder / "mistral-Q8_0.gguf" and gguf_path.exists()

    imatrix = tmp_path / "m.imatrix.gguf"
    result = run_cli("imatrix", str(gguf_path), "--out", str(imatrix), "--ctx", "64")
    assert result.returncode == 0, result.stderr
    assert imatrix.exists()
    assert re.search(r"\b\d+ chunks of 64 tokens", result.stderr), result.stderr  # the chunks actually used

    result = run_cli(
        "quantize", str(gguf_path), "IQ2_XS,q4_k_m", "--imatrix", str(imatrix), "--out-dir", str(tmp_path / "q")
    )
    assert result.returncode == 0, result.stderr
    outputs = [Path(line) for line in result.stdout.split()]
    assert [p.name for p in outputs] == ["mistral-IQ2_XS.gguf", "mistral-Q4_K_M.gguf"]
    assert all(p.exists() for p in outputs)
    assert "warning:" in result.stderr and "already quantized" in result.stderr  # a Q8_0 source


def test_quantize_errors_are_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (folder / "pytorch_model.bin").write_bytes(b"not unpickled")
    result = run_cli("convert", str(folder))
    assert result.returncode == 1
    assert result.stderr.startswith("error:") and "pickle" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    result = run_cli("quantize", str(folder), "Q5_X")
    assert result.returncode == 1 and "unknown quantization type" in result.stderr

    unsupported = tmp_path / "falcon"
    unsupported.mkdir()
    (unsupported / "config.json").write_text(json.dumps({"architectures": ["FalconForCausalLM"]}))
    (unsupported / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    result = run_cli("convert", str(unsupported))
    assert result.returncode == 1 and "FalconForCausalLM" in result.stderr and "Qwen3" in result.stderr


def test_imatrix_chunk_size_is_checked_before_any_work(gemma_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "q"
    result = run_cli("quantize", str(gemma_model), "IQ2_XS", "--imatrix-ctx", "8", "--out-dir", str(out))
    assert result.returncode == 1 and "too small" in result.stderr and "16" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    result = run_cli("quantize", str(gemma_model), "IQ2_XS", "--imatrix-ctx", "40000", "--out-dir", str(out))
    assert result.returncode == 1 and "32768" in result.stderr  # Gemma 3 270M's training context

    result = run_cli("quantize", str(gemma_model), "Q4_K_M", "--imatrix", str(gemma_model), "--imatrix-ctx", "256")
    assert result.returncode == 1 and "--imatrix-ctx" in result.stderr

    result = run_cli("imatrix", str(gemma_model), "--out", str(out / "m.imatrix.gguf"), "--ctx", "40000")
    assert result.returncode == 1 and "32768" in result.stderr
    assert not out.exists()  # nothing was started


def test_mtp_layers_kept_by_default_and_left_out_with_no_mtp(tmp_path: Path) -> None:
    """As llama.cpp's converter: a checkpoint's multi-token-prediction layer stays in the GGUF unless --no-mtp."""
    from gguf import GGUFReader

    from tests.support.tiny_hf import make_tiny_mtp

    folder = make_tiny_mtp(tmp_path / "nemotron", "nemotronhmoe")
    kept = {}
    for flags in ((), ("--no-mtp",)):
        out = tmp_path / f"q{len(flags)}"
        result = run_cli("quantize", str(folder), "Q8_0", "--keep-f16", "--out-dir", str(out), *flags)
        assert result.returncode == 0, result.stderr
        for name in ("nemotron-F16.gguf", "nemotron-Q8_0.gguf"):
            reader = GGUFReader(out / name)
            kept[(flags, name)] = (
                "nemotron_h_moe.nextn_predict_layers" in reader.fields,
                any(t.name.startswith("blk.4.") for t in reader.tensors),
            )
    assert kept[((), "nemotron-F16.gguf")] == kept[((), "nemotron-Q8_0.gguf")] == (True, True)
    assert kept[(("--no-mtp",), "nemotron-F16.gguf")] == kept[(("--no-mtp",), "nemotron-Q8_0.gguf")] == (False, False)
