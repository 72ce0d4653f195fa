"""Hashing a segmented part while it fills: the contiguous prefix from byte 0 is hashed as soon as it grows, so
the hash is nearly done when the last segment lands. The connection writing at the front of the file hands a copy
of its bytes to the hashing thread as they arrive (`offer`), so they are not read back and the connection goes
on receiving while they are hashed on the other core; bytes that landed past a hole are read back by that
thread once the hole is filled.

Segments finish out of order and sha256 only takes bytes in order, so bytes past a hole wait on disk (in the
page cache, where they were just written) until the hole is filled. hashlib cannot save its state, so after a
restart the prefix on disk is read once more from byte 0.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from pathlib import Path

from app.downloads.checksum import Hasher

_READ = 4 * 1024 * 1024
_QUEUED_MOST = 32 * 1024 * 1024  # bytes offered and not yet hashed; past it offers are dropped (read back later)
OFFER = True  # False: every byte is read back from disk (kept to measure the difference)


class PrefixHasher:
    def __init__(
        self, path: Path, hasher: Hasher, size: int, frontier: Callable[[], int], wake: threading.Condition
    ) -> None:
        self._path = path
        self._hasher = hasher
        self._size = size
        self._frontier = frontier
        self._wake = wake
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards the offered chunks and where they end
        self._offered_ready = threading.Event()  # set by an offer; the board's condition wakes the rest
        self._offered: collections.deque[tuple[int, bytes]] = collections.deque()
        self._offered_bytes = 0
        self._offered_end = 0  # the byte after the last offered chunk
        self._error: BaseException | None = None
        self.hashed = 0
        self._thread = threading.Thread(target=self._run, name="sha256-prefix", daemon=True)
        self._thread.start()

    def offer(self, offset: int, data: memoryview) -> None:
        """Bytes just written at `offset` by a connection: when they are the next ones the hash needs (the
        connection at the front of the file), a copy goes to the hashing thread, so they are not read back from
        disk. Called from connection threads; never waits."""
        if not OFFER:
            return
        with self._lock:
            if offset != max(self._offered_end, self.hashed) or self._offered_bytes >= _QUEUED_MOST:
                return
            self._offered.append((offset, bytes(data)))
            self._offered_bytes += len(data)
            self._offered_end = offset + len(data)
        self._offered_ready.set()

    def _next_offered(self) -> bytes | None:
        """The offered bytes that continue the hash (chunks the disk reads overtook are dropped)."""
        with self._lock:
            while self._offered:
                offset, chunk = self._offered.popleft()
                self._offered_bytes -= len(chunk)
                skip = self.hashed - offset
                if skip < len(chunk):
                    return chunk[skip:] if skip > 0 else chunk
            return None

    def finish(self) -> str:
        """The digest, once the whole file is on disk (blocks until the rest is hashed)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self.hashed != self._size:
            raise RuntimeError(f"hashed {self.hashed} of {self._size} bytes")
        return self._hasher.hexdigest()

    def abandon(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        self._thread.join()

    def _run(self) -> None:
        try:
            handle = open(self._path, "rb", buffering=0)  # noqa: SIM115 - closed in finally
        except OSError as exc:
            self._error = exc
            return
        try:
            buffer = bytearray(_READ)
            view = memoryview(buffer)
            while self.hashed < self._size and not self._stop.is_set():
                chunk = self._next_offered()
                if chunk is not None:
                    self._hasher.update(chunk)
                    self.hashed += len(chunk)
                    continue
                target = self._frontier()
                if target <= self.hashed:
                    # offers set the event; the rest (a hole filled, a stop) wakes the board's condition, so
                    # short waits on the event cover both
                    self._offered_ready.wait(0.01)
                    self._offered_ready.clear()
                    continue
                handle.seek(self.hashed)
                n = handle.readinto(view[: min(_READ, target - self.hashed)])
                if not n:
                    raise OSError(f"{self._path} is shorter than expected")
                self._hasher.update(view[:n])
                self.hashed += n
        except BaseException as exc:  # re-raised by finish()
            self._error = exc
        finally:
            handle.close()
