"""llama.cpp's own log through its callback: whole lines, to the capturing thread's listener or to logging."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from app.gguf.synthetic import write_tiny_gguf
from app.process import native_log
from app.quantize import llama_api


def test_capture_is_per_thread(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="app.llama")
    model = write_tiny_gguf(tmp_path / "tiny.gguf")
    heard: list[str] = []

    def load() -> None:
        with llama_api.loaded_model(model, vocab_only=True):
            pass

    with native_log.captured(lambda _level, line: heard.append(line)) as lines:
        other = threading.Thread(target=load)
        other.start()
        other.join()
        assert not any("llama_model_loader" in line for line in lines)  # the other thread's lines are not ours
        load()
    assert heard == lines and any("llama_model_loader: loaded meta data" in line for line in lines)
    assert all("\n" not in line for line in lines)
    logged = [r.getMessage() for r in caplog.records if r.name == "app.llama"]
    assert any("llama_model_loader: loaded meta data" in line for line in logged)  # from the other thread
