"""An exclusive claim on an output's final name while a job writes it, so two jobs never write one file.

The claim is a cross-process lock on `<name>.lock` beside the output (see locking.py), holding the owner's
pid; the OS releases it if the owner dies. A job aimed at a claimed name refuses at once. The lock file is
removed on release; a waiter that then holds a removed file sees it is no longer the named one and retries.
Claims are reentrant within a process (a quantize job claims the convert and imatrix outputs it runs).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from app.core.errors import BusyError
from app.core.locking import FileLock, lock_path

_guard = threading.Lock()
_held: dict[Path, tuple[FileLock, int]] = {}


def part_pattern(path: Path, pid: int | None = None) -> re.Pattern[str]:
    """Names app.core.atomic.temp_name gives `path`'s temporary files (all writers', or one pid's)."""
    who = r"\d+" if pid is None else str(pid)
    return re.compile(rf"{re.escape(path.name)}\.{who}-[0-9a-f]+\.part")


def temp_files(path: Path, pid: int | None = None) -> list[Path]:
    pattern = part_pattern(path, pid)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    return [path.parent / name for name in names if pattern.fullmatch(name)]


@contextlib.contextmanager
def claimed(paths: Iterable[Path]) -> Iterator[None]:
    """Hold the claim on every path (BusyError at once if another process writes one) until the block ends."""
    taken: list[Path] = []
    try:
        for path in dict.fromkeys(p.absolute() for p in paths):
            _claim(path)
            taken.append(path)
        yield
    finally:
        for path in reversed(taken):
            _release(path)


def _claim(path: Path) -> None:
    with _guard:
        if path in _held:
            lock, count = _held[path]
            _held[path] = (lock, count + 1)
            return
        _held[path] = (_acquire(path), 1)
    # With the claim held no other writer of this name is alive: any temporary file is a dead one's.
    for stale in temp_files(path):
        with contextlib.suppress(OSError):
            stale.unlink()


def _acquire(path: Path) -> FileLock:
    while True:
        lock = FileLock(lock_path(path))
        if not lock.acquire(timeout=0):
            owner = lock.read_owner()
            who = f" (process {owner})" if owner.isdigit() else ""
            raise BusyError(
                f"{path} is being written by another job{who}",
                hint="wait for that job to finish, or choose another output folder or type",
            )
        if lock.is_current():
            lock.write_owner(str(os.getpid()))
            return lock
        lock.release()  # its holder removed the file as it finished: claim the name afresh


def remove_unheld(path: Path) -> None:
    """Remove `path`'s lock file if no one holds it (its owner was killed); a held one stays."""
    lock = FileLock(lock_path(path))
    if not lock_path(path).exists() or not lock.acquire(timeout=0):
        return
    try:
        if lock.is_current():
            with contextlib.suppress(OSError):
                lock.path.unlink()
    finally:
        lock.release()


def _release(path: Path) -> None:
    with _guard:
        lock, count = _held[path]
        if count > 1:
            _held[path] = (lock, count - 1)
            return
        del _held[path]
    with contextlib.suppress(OSError):  # removed while still held, so no one can lock the removed file unseen
        lock.path.unlink()
    lock.release()
