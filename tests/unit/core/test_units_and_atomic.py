from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from app.core import atomic
from app.core.atomic import flushed_while_written
from app.core.errors import DiskFullError, GatedRepoError, GGUFError
from app.core.units import format_bytes, format_count, format_duration


def test_format_bytes() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(253 * 1024**2) == "253.0 MiB"
    assert format_bytes(24 * 1024**3, digits=0) == "24 GiB"


def test_format_duration_and_count() -> None:
    assert format_duration(5) == "5s"
    assert format_duration(125) == "2m 05s"
    assert format_duration(3725) == "1h 02m"
    assert format_count(999) == "999"
    assert format_count(1_234_567) == "1.2M"
    assert format_count(270_000_000) == "270.0M"


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    atomic.write_atomic(target, b"one")
    atomic.write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert list(target.parent.iterdir()) == [target]


def test_write_atomic_disk_full_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "file.json"
    atomic.write_atomic(target, b"old")

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(DiskFullError):
        atomic.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_error_messages_are_actionable() -> None:
    error = GGUFError("tensor count is larger than the file", offset=24)
    assert "at byte 24" in str(error)
    gated = GatedRepoError("You must accept the license", repo_id="google/gemma-3-1b-it")
    assert gated.url.endswith("/google/gemma-3-1b-it")


def _open_fds_to(path: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    return sum(1 for fd in fd_dir.iterdir() if os.path.realpath(fd) == str(path.resolve()))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see open descriptors")
def test_flushing_follows_a_file_that_appears_later_and_lets_it_go(tmp_path: Path) -> None:
    target = tmp_path / "out.gguf.part"
    with flushed_while_written(target, interval=0.01):
        time.sleep(0.05)  # the flusher polls for a file that does not exist yet
        with open(target, "wb") as handle:
            deadline = time.monotonic() + 10
            while _open_fds_to(target) < 2 and time.monotonic() < deadline:
                handle.write(os.urandom(1 << 20))
                handle.flush()
                time.sleep(0.02)
            assert _open_fds_to(target) == 2  # ours and the flusher's
    assert _open_fds_to(target) == 0


def test_flushing_a_file_that_never_appears_is_harmless(tmp_path: Path) -> None:
    with flushed_while_written(tmp_path / "never", interval=0.01):
        time.sleep(0.03)
    assert not (tmp_path / "never").exists()
