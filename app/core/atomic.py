"""Atomic file writes: a unique `*.part` sibling, fsync, os.replace — a reader never sees half a file."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from app.core.errors import DiskFullError

STALE_PART_S = 3600.0  # a temporary file this old belongs to a writer that died


def fsync_dir(directory: Path) -> None:
    if os.name == "nt":
        return  # directories cannot be opened for fsync on Windows; NTFS journals the rename
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    """A temporary sibling of `path` no other writer (process or thread) will pick: pid plus random."""
    return path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")


def write_atomic(path: Path, data: bytes, *, mode: int = 0o666) -> None:
    """`mode` (before the umask) is the file's from its creation: a secret never sits in a readable file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = temp_name(path)
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
        with open(fd, "wb") as handle:
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
    _remove_stale_parts(path)


def _remove_stale_parts(path: Path) -> None:
    """Temporary files a killed writer left beside `path` (unique names are never overwritten by the next)."""
    cutoff = time.time() - STALE_PART_S
    for stale in path.parent.glob(f"{glob.escape(path.name)}.*-*.part"):
        with contextlib.suppress(OSError):
            if stale.stat().st_mtime < cutoff:
                stale.unlink()


def write_text_atomic(path: Path, text: str, *, mode: int = 0o666) -> None:
    write_atomic(path, text.encode("utf-8"), mode=mode)


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
