"""quantize when the disk fills up while llama.cpp writes (its iostreams report only "iostream error")."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf
from tests.support.tmpfs import fill, small_tmpfs


def test_quantize_on_a_disk_that_fills_mid_write_says_the_disk_is_full(tmp_path: Path) -> None:
    # 130 MB of F32 weights: the Q8_0 output (35 MB) takes long enough to write for the disk to fill meanwhile.
    source = write_tiny_gguf(
        tmp_path / "big-F32.gguf", TinySpec(n_layer=8, n_embd=512, n_ff=2048, n_head=8, n_head_kv=8)
    )
    with small_tmpfs(tmp_path / "small", "64m") as small:
        out = small / "out"
        out.mkdir()
        stop = threading.Event()

        def fill_when_writing_starts() -> None:
            while not stop.is_set() and not list(out.glob("*.part")):
                stop.wait(0.001)
            if not stop.is_set():
                fill(small)

        filler = threading.Thread(target=fill_when_writing_starts, daemon=True)
        filler.start()
        try:
            result = run_cli("quantize", str(source), "Q8_0", "--out-dir", str(out), timeout=300)
        finally:
            stop.set()
            filler.join(30)
        left = sorted(p.name for p in out.iterdir())
    assert result.returncode != 0, result.stdout
    assert "the disk filled up while writing big-Q8_0.gguf" in result.stderr, result.stderr
    assert "iostream" not in result.stderr
    assert left == []
