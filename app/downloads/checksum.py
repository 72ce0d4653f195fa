"""Checksums the Hub publishes: LFS files carry a sha256, plain git files a git blob sha1."""

from __future__ import annotations

import hashlib
import re
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
