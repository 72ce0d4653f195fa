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

    Bytes are gathered in one of `slots` buffers of `slot_size` bytes; a full buffer is handed over whole,
    so the two threads meet once per buffer instead of once per network read (each meeting costs a
    wake-up, which is dear on a small machine). The buffers are reused, which bounds the memory in flight.
    A receiver can read straight into `space()` and `commit()` what arrived; `feed()` copies a chunk in.
    `close()` returns once every committed byte is hashed.
    """

    def __init__(self, hasher: Hasher, slot_size: int = 4 << 20, slots: int = 4) -> None:
        self._hasher = hasher
        self._free: queue.Queue[bytearray] = queue.Queue()
        self._full: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        for _ in range(slots):
            self._free.put(bytearray(slot_size))
        self._slot = self._free.get()
        self._fill = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def space(self, limit: int) -> memoryview:
        """Up to `limit` writable bytes of the current buffer; fill them, then `commit()` what was used."""
        if self._fill == len(self._slot):
            self._hand_over()
        return memoryview(self._slot)[self._fill : self._fill + limit]

    def commit(self, count: int) -> None:
        self._fill += count

    def feed(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk)
        while view:
            room = self.space(len(view))
            room[:] = view[: len(room)]
            self.commit(len(room))
            view = view[len(room) :]

    def close(self) -> None:
        self._hand_over()
        self._full.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _hand_over(self) -> None:
        if self._fill:
            self._full.put((self._slot, self._fill))
            self._slot, self._fill = self._free.get(), 0

    def _run(self) -> None:
        while True:
            item = self._full.get()
            if item is None:
                return
            slot, fill = item
            if self._error is None:
                try:
                    self._hasher.update(memoryview(slot)[:fill])
                except BaseException as exc:  # re-raised by close() on the receiving thread
                    self._error = exc
            self._free.put(slot)
