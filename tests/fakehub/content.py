"""Bytes a fake Hub file serves: in memory, from a path on disk, or virtual (a real header + generated data).

Nothing is loaded whole into memory: bodies are produced chunk by chunk for any byte range, and sha256
digests are computed once (streamed) and cached, on disk for path/virtual contents keyed by what defines them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

CHUNK = 256 * 1024
_REPO_ROOT = Path(__file__).resolve().parents[2]
_DIGEST_CACHE_DIR = _REPO_ROOT / "build" / "fakehub-digests"
_PATTERN = hashlib.shake_256(b"gguf-studio fakehub tensor data").digest(64 * 1024)


class Content:
    """Abstract file body: `size`, `read(start, end)` chunk iterator over [start, end), cached `sha256`."""

    size: int

    def __init__(self) -> None:
        self._sha256: str | None = None
        self._lock = threading.Lock()

    def read(self, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        raise NotImplementedError

    def _cache_key(self) -> str | None:
        return None

    @property
    def sha256(self) -> str:
        with self._lock:
            if self._sha256 is None:
                self._sha256 = self._digest()
            return self._sha256

    def _digest(self) -> str:
        key = self._cache_key()
        cache = _DIGEST_CACHE_DIR / f"{key}.sha256" if key else None
        if cache is not None and cache.exists():
            return cache.read_text().strip()
        h = hashlib.sha256()
        for part in self.read(0, self.size, chunk=4 * 1024 * 1024):
            h.update(part)
        digest = h.hexdigest()
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.part")
            tmp.write_text(digest)
            os.replace(tmp, cache)
        return digest

    def read_all(self) -> bytes:
        return b"".join(self.read(0, self.size))

    def git_blob_sha1(self) -> str:
        h = hashlib.sha1(f"blob {self.size}\0".encode())
        for part in self.read(0, self.size):
            h.update(part)
        return h.hexdigest()


class BytesContent(Content):
    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = bytes(data)
        self.size = len(self.data)

    def read(self, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        for pos in range(start, end, chunk):
            yield self.data[pos : min(pos + chunk, end)]


class PathContent(Content):
    """A file on disk, read per request (the real Gemma GGUF is served this way)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        st = self.path.stat()
        self.size = st.st_size
        self._mtime = st.st_mtime_ns

    def _cache_key(self) -> str:
        ident = f"{self.path.resolve()}|{self.size}|{self._mtime}"
        return "path-" + hashlib.sha1(ident.encode()).hexdigest()

    def read(self, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        with open(self.path, "rb") as fh:
            fh.seek(start)
            pos = start
            while pos < end:
                part = fh.read(min(chunk, end - pos))
                if not part:
                    return
                pos += len(part)
                yield part


class VirtualContent(Content):
    """`prefix` (e.g. a real GGUF header) followed by deterministic filler up to `size` bytes.

    Lets the catalogue publish quants of realistic sizes (hundreds of MB) without storing them.
    """

    def __init__(self, prefix: bytes, size: int) -> None:
        super().__init__()
        if size < len(prefix):
            raise ValueError("virtual content smaller than its prefix")
        self.prefix = bytes(prefix)
        self.size = size

    def _cache_key(self) -> str:
        return "virt-" + hashlib.sha1(self.prefix + str(self.size).encode()).hexdigest()

    def read(self, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        end = self.size if end is None else min(end, self.size)
        pos = start
        n_prefix = len(self.prefix)
        n_pat = len(_PATTERN)
        while pos < end:
            if pos < n_prefix:
                stop = min(end, n_prefix, pos + chunk)
                yield self.prefix[pos:stop]
            else:
                off = (pos - n_prefix) % n_pat
                stop = min(end, pos + chunk, pos + (n_pat - off))
                yield _PATTERN[off : off + (stop - pos)]
            pos = stop
