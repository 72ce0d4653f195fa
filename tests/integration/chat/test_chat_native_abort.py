"""A model whose vocabulary llama.cpp rejects makes ggml abort (GGML_ASSERT, then SIGABRT) in the engine
process. Through the real `gguf-studio` entry point that is one `error:` line naming the assertion: no gdb
backtrace, no Python traceback, nothing on stdout (so --json output stays clean), exit code 1."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from app.gguf.synthetic import write_tiny_gguf

pytestmark = pytest.mark.slow


def _piece(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


@pytest.fixture
def rejected_vocab_model(tmp_path: Path) -> Path:
    """Two tokens with the same text: llama.cpp asserts id_to_token.size() == token_to_id.size()."""
    path = write_tiny_gguf(tmp_path / "duplicate-token.gguf")
    data = path.read_bytes()
    assert data.count(_piece("\u2581w1")) == 1
    path.write_bytes(data.replace(_piece("\u2581w1"), _piece("\u2581w0")))
    return path


def _gguf_studio() -> list[str]:
    script = Path(sys.executable).with_name("gguf-studio")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app"]


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_abort_while_loading_is_one_error_line(rejected_vocab_model: Path, tmp_path: Path, json_output: bool) -> None:
    args = ["chat", str(rejected_vocab_model), "--prompt", "Hello", "--template", "raw", "--ctx", "256"]
    result = subprocess.run([*_gguf_studio(), *args, *(["--json"] if json_output else [])],
                            cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "error: llama.cpp stopped while loading the model: "
        "GGML_ASSERT(id_to_token.size() == token_to_id.size()) failed (llama-vocab.cpp:"
    ), lines[0]
    assert lines[0].endswith(")")
