"""Cross-process exclusive locks on a small side file (`<name>.lock`): flock on Unix, msvcrt on Windows.

Shared state files (the download queue, settings) are read, merged and written under one of these, so two
processes (two app windows, the app and a CLI verb) never lose each other's changes. The lock belongs to an
open file, so it is released when the holder exits, even by SIGKILL: a stale lock cannot exist.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from app.core.errors import BusyError

_POLL = 0.01


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


class FileLock:
    """An exclusive lock named by a file. `acquire(timeout=0)` tries once; the holder may write its pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def acquire(self, timeout: float | None = 30.0) -> bool:
        if self._fd >= 0:
            raise RuntimeError(f"{self.path} is already locked by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not _try_lock(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(_POLL)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            _unlock(fd)
        finally:
            os.close(fd)

    def is_current(self) -> bool:
        """Whether the held lock file is still the one at `path` (a holder may remove it as it lets go)."""
        if self._fd < 0:
            return False
        try:
            named = os.stat(self.path)
        except OSError:
            return False
        own = os.fstat(self._fd)
        return (named.st_dev, named.st_ino) == (own.st_dev, own.st_ino)

    def write_owner(self, text: str) -> None:
        """Record who holds the lock (a pid, for "already running" messages); only while held."""
        if self._fd < 0:
            return
        data = text.encode("utf-8")
        # Byte 0 is the locked byte on Windows: the owner text goes after it.
        os.lseek(self._fd, 1, os.SEEK_SET)
        os.write(self._fd, data)
        os.ftruncate(self._fd, 1 + len(data))

    def read_owner(self) -> str:
        with contextlib.suppress(OSError):
            return self.path.read_bytes()[1:].decode("utf-8", "replace").strip()
        return ""


@contextlib.contextmanager
def locked(path: Path, timeout: float = 30.0) -> Iterator[None]:
    """Hold the cross-process lock of `path` (its `<name>.lock` file) for a read-modify-write."""
    lock = FileLock(lock_path(path))
    if not lock.acquire(timeout):
        raise BusyError(
            f"Another GGUF Studio process has held {path.name} for over {timeout:.0f} s",
            hint="close other GGUF Studio windows or commands and try again",
        )
    try:
        yield
    finally:
        lock.release()
