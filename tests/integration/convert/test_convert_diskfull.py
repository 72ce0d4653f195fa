"""convert with only a few KiB free: a DiskFullError sentence, no traceback, nothing half-written left."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli
from tests.support.tiny_hf import make_tiny_hf
from tests.support.tmpfs import fill, small_tmpfs


def test_convert_with_a_few_kib_free_says_the_disk_is_full(tmp_path: Path) -> None:
    folder = make_tiny_hf(tmp_path / "hf", "llama3")
    with small_tmpfs(tmp_path / "small", "2m") as small:
        fill(small, leave=8 * 1024)
        result = run_cli("convert", str(folder), "--out", str(small / "out.gguf"))
        left = sorted(p.name for p in small.iterdir())
    assert result.returncode != 0
    assert "the disk filled up while writing" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr and "Errno" not in result.stderr
    assert left == ["filler.bin"]
