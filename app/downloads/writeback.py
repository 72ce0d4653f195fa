"""Starting the disk writes of a download while it runs, so the fsync before the rename has little left to do.

A finished download is fsynced before it is renamed into place (a crash must never leave a listed file whose
bytes are not on disk). Left to the kernel, nothing of a 1 GiB file is written out before that fsync (the
dirty limits are far above it on a machine with RAM to spare), and the fsync then waits for all of it: about
0.4 s per GiB on our test VM, a third of the whole transfer. Linux's sync_file_range(WRITE) queues the
writing of bytes already in the file without waiting for it; a thread of its own issues it every few MiB
(the call can block while the disk queue is full, which must not slow the receivers). Elsewhere this is a
no-op and the fsync does all the work, as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from app.downloads.ranges import Span, gaps, merge

log = logging.getLogger("app.downloads")

STEP = 8 << 20  # bytes gathered before a write-out is queued
POLL = 0.1  # seconds between looks at what arrived
_SYNC_FILE_RANGE_WRITE = 2


def _load() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = ctypes.CDLL(None, use_errno=True).sync_file_range  # releases the GIL while it runs
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


_SYNC_FILE_RANGE = _load()


def supported() -> bool:
    return _SYNC_FILE_RANGE is not None


class Writeback:
    """Follows `done()` (the spans of the file on disk) and queues each new stretch for writing out."""

    def __init__(self, path: Path, done: Callable[[], Sequence[Span]]) -> None:
        self._path = path
        self._done = done
        self._flushed: list[Span] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if _SYNC_FILE_RANGE is not None:
            self._thread = threading.Thread(target=self._run, name="download-writeback", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except OSError:
            return
        try:
            while not self._stop.wait(POLL):
                self._flush_new(fd)
        finally:
            os.close(fd)

    def _flush_new(self, fd: int) -> None:
        assert _SYNC_FILE_RANGE is not None
        for start, end in _new_spans(self._done(), self._flushed):
            if end - start < STEP:
                continue  # wait until a stretch is worth a call
            if _SYNC_FILE_RANGE(fd, start, end - start, _SYNC_FILE_RANGE_WRITE) != 0:
                with contextlib.suppress(Exception):
                    log.debug("sync_file_range on %s failed: errno %d", self._path.name, ctypes.get_errno())
                self._stop.set()  # the fsync at the end still does the work
                return
            self._flushed = merge([*self._flushed, (start, end)])


def _new_spans(done: Sequence[Span], flushed: Sequence[Span]) -> list[Span]:
    """The parts of `done` not in `flushed` (both merged)."""
    out: list[Span] = []
    for start, end in done:
        for a, b in gaps(flushed, end):
            if b > start and a < end:
                out.append((max(a, start), min(b, end)))
    return out
