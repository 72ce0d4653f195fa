"""Hashing a segmented part while it fills: the contiguous prefix from byte 0 is hashed as soon as it grows, so
the hash is nearly done when the last segment lands. The connection writing at the front of the file hashes its
own bytes as they arrive (`offer`); bytes that landed past a hole are read back by a thread of its own once the
hole is filled.

Segments finish out of order and sha256 only takes bytes in order, so bytes past a hole wait on disk (in the
page cache, where they were just written) until the hole is filled. hashlib cannot save its state, so after a
restart the prefix on disk is read once more from byte 0.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from app.downloads.checksum import Hasher

_READ = 4 * 1024 * 1024
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
        self._lock = threading.Lock()  # held while hashing: by this thread from disk, or by a connection (offer)
        self._error: BaseException | None = None
        self.hashed = 0
        self._thread = threading.Thread(target=self._run, name="sha256-prefix", daemon=True)
        self._thread.start()

    def offer(self, offset: int, data: memoryview) -> None:
        """Bytes just written at `offset` by a connection: hashed here and now when they are the next ones the
        hash needs (the connection at the front of the file), so they are not read back from disk. Called from
        connection threads; never waits (the hashing thread may be busy with the same bytes from disk)."""
        if offset != self.hashed or not OFFER or not self._lock.acquire(blocking=False):
            return
        try:
            if offset == self.hashed and not self._stop.is_set():
                self._hasher.update(data)
                self.hashed += len(data)
        except BaseException as exc:  # re-raised by finish()
            self._error = exc
            self._stop.set()
        finally:
            self._lock.release()

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
                target = self._frontier()
                if target <= self.hashed:
                    with self._wake:
                        self._wake.wait(0.1)
                    continue
                while self.hashed < target and not self._stop.is_set():
                    with self._lock:  # a connection may have hashed the next bytes meanwhile (offer)
                        if self.hashed >= target:
                            break
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
