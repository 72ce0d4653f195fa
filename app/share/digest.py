"""SHA-256 of the files to publish, remembered by path, size and modification time, so a publish that is
run again after a crash or a cancel does not read tens of gigabytes again before it can skip them."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from app.core.atomic import write_text_atomic
from app.core.errors import Cancelled
from app.core.paths import cache_dir

log = logging.getLogger("app.share")

_BLOCK = 4 << 20
_MAX_ENTRIES = 512
_lock = threading.Lock()


def _cache_file() -> Path:
    return cache_dir() / "publish" / "sha256.json"


def _key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _load() -> dict[str, str]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str) and len(v) == 64}


def cached_sha256(path: Path) -> str | None:
    with _lock:
        return _load().get(_key(path))


def sha256_of(path: Path, progress: Callable[[int], None] | None = None, cancel: threading.Event | None = None) -> str:
    """The file's SHA-256 (hex), from the cache when the file is unchanged; `progress(bytes_read)` while reading."""
    key = _key(path)
    with _lock:
        known = _load().get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    done = 0
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            digest.update(view[:n])
            done += n
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if progress is not None:
                progress(done)
    value = digest.hexdigest()
    with _lock:
        entries = _load()
        entries[key] = value
        if len(entries) > _MAX_ENTRIES:
            entries = dict(list(entries.items())[-_MAX_ENTRIES:])
        try:
            write_text_atomic(_cache_file(), json.dumps(entries, indent=0))
        except OSError as exc:  # a cache: the next run hashes again
            log.info("cannot keep the sha256 cache: %s", exc)
    return value
