"""Checksums the Hub publishes: LFS files carry a sha256, plain git files a git blob sha1."""

from __future__ import annotations

import hashlib
import queue
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_READ_CHUNK = 4 * 1024 * 1024

Algorithm = Literal["sha256", "git-sha1"]


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Checksum:
    algorithm: Algorithm
    hexdigest: str

    @staticmethod
    def from_etag(etag: str | None) -> Checksum | None:
        """The Hub's (linked) ETag: a sha256 for LFS files, the git blob sha1 otherwise."""
        value = (etag or "").strip().strip('"').lower()
        if value.startswith("w/"):
            value = value[2:].strip('"')
        if _SHA256.match(value):
            return Checksum("sha256", value)
        if _SHA1.match(value):
            return Checksum("git-sha1", value)
        return None

    def new_hasher(self, size: int) -> Hasher:
        hasher = hashlib.sha256() if self.algorithm == "sha256" else hashlib.sha1()
        if self.algorithm == "git-sha1":
            hasher.update(f"blob {size}\0".encode())
        return hasher

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hexdigest}"


def hash_prefix(hasher: Hasher, path: Path, length: int) -> None:
    """Feed the first `length` bytes of `path` into `hasher` (used once, when resuming a partial file).

    hashlib cannot save its state, so a resumed transfer re-reads the bytes it already has.
    """
    remaining = length
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(min(_READ_CHUNK, max(length, 1)))
        view = memoryview(buffer)
        while remaining > 0:
            n = handle.readinto(view[: min(len(buffer), remaining)])
            if not n:
                raise OSError(f"{path} is shorter than expected")
            hasher.update(view[:n])
            remaining -= n


class HashPipe:
    """Hashes on a thread of its own, so hashing overlaps receiving and writing (hashlib releases the GIL).

    Chunks travel in batches of about `batch` bytes to keep the hand-over cost per byte small; at most
    `depth` batches wait, which bounds the memory in flight. `close()` returns once every byte is hashed.
    """

    def __init__(self, hasher: Hasher, batch: int = 1 << 20, depth: int = 16) -> None:
        self._hasher = hasher
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._limit = batch
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def feed(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batch_bytes += len(chunk)
        if self._batch_bytes >= self._limit:
            self._queue.put(self._batch)
            self._batch, self._batch_bytes = [], 0

    def close(self) -> None:
        if self._batch:
            self._queue.put(self._batch)
            self._batch, self._batch_bytes = [], 0
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        update = self._hasher.update
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is None:
                try:
                    for chunk in batch:
                        update(chunk)
                except BaseException as exc:  # re-raised by close() on the receiving thread
                    self._error = exc
