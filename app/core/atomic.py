"""Atomic file writes: `*.part`, fsync, os.replace — a reader never sees half a file."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from app.core.errors import DiskFullError


def fsync_dir(directory: Path) -> None:
    if os.name == "nt":
        return  # directories cannot be opened for fsync on Windows; NTFS journals the rename
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            part.unlink()
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(f"No space left to write {path}", hint="free some disk space") from exc
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def flushed_while_written(path: Path, interval: float = 0.2) -> Iterator[None]:
    """Start writing `path`'s data to disk every `interval` seconds while another writer (native code) fills it.

    The fsync an atomic write ends with then finds little left to write, instead of the whole file: the
    disk works while the writer computes. Errors here are ignored; the final fsync is the one that counts.
    """
    done = threading.Event()
    start_writeback = _writeback_starter()

    def flush() -> None:
        fd = -1
        try:
            while not done.wait(interval):
                if fd < 0:
                    with contextlib.suppress(OSError):
                        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        start_writeback(fd)
        finally:
            if fd >= 0:
                os.close(fd)

    thread = threading.Thread(target=flush, name=f"flush {path.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _writeback_starter() -> Callable[[int], None]:
    """Linux can start writeback without waiting for it or committing the journal; elsewhere, fsync."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            sync_file_range = libc.sync_file_range
        except (OSError, AttributeError):
            return os.fsync
        sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        write = 2  # SYNC_FILE_RANGE_WRITE

        def start(fd: int) -> None:
            sync_file_range(fd, 0, 0, write)

        return start
    return os.fsync
