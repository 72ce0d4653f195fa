"""The header cache: SQLite in the cache dir, one row per model keyed by its files' paths, sizes and mtimes.

A warm scan finds every row still valid and reads no header at all. The quality score beside a model has its
own signature (the sidecar's size, mtime and inode), so a score written or replaced later is read on its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import DiskFullError, SidecarError
from app.library.entries import ModelSummary
from app.quantize.quality_file import QualityRecord

log = logging.getLogger("app.library")

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    path TEXT PRIMARY KEY,
    signature TEXT NOT NULL,
    summary TEXT,
    error TEXT,
    quality_signature TEXT NOT NULL DEFAULT '',
    quality TEXT
)
"""


@dataclass(frozen=True, slots=True)
class CachedRow:
    signature: str
    summary: ModelSummary | None
    error: str | None
    quality_signature: str = ""  # "" when no sidecar was there
    quality: QualityRecord | None = None  # already checked against the model's size


def default_index_path() -> Path:
    from app.core.paths import cache_dir

    return cache_dir() / "library.sqlite"


class HeaderIndex:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_index_path()
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                conn.execute("DROP TABLE IF EXISTS models")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute(_SCHEMA)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if _disk_full(exc):
                raise _index_disk_full(self.path) from exc
            # Only a cache: a damaged one is thrown away and rebuilt from the headers.
            log.warning("library index %s is damaged (%s); rebuilding it", self.path, exc)
            with contextlib.suppress(OSError):
                self.path.unlink()
            return self._connect()

    def load(self) -> dict[str, CachedRow]:
        """The cached rows; none when the cache cannot be opened on a full disk (headers are read again)."""
        try:
            with self._lock, contextlib.closing(self._open()) as conn:
                rows = conn.execute(
                    "SELECT path, signature, summary, error, quality_signature, quality FROM models"
                ).fetchall()
        except DiskFullError as exc:
            log.warning("%s", exc)
            return {}
        result: dict[str, CachedRow] = {}
        for path, signature, summary, error, quality_signature, quality in rows:
            try:
                parsed = ModelSummary.from_json(json.loads(summary)) if summary else None
            except (ValueError, KeyError, TypeError):
                continue  # an unreadable row is a cache miss
            try:
                score = QualityRecord.from_json(json.loads(quality)) if quality else None
            except (SidecarError, ValueError, TypeError, RecursionError):
                quality_signature, score = "", None  # read the sidecar again
            result[path] = CachedRow(signature, parsed, error, quality_signature or "", score)
        return result

    def update(self, rows: dict[str, CachedRow], keep: Iterable[str]) -> None:
        """Write `rows` and drop every row whose path is not in `keep`. The index is only a cache: on a full
        disk it is left as it was, and the library is listed all the same."""
        try:
            self._update(rows, set(keep))
        except DiskFullError as exc:
            log.warning("%s", exc)
        except sqlite3.OperationalError as exc:
            if not _disk_full(exc):
                raise
            log.warning("%s", _index_disk_full(self.path))

    def _update(self, rows: dict[str, CachedRow], keep_set: set[str]) -> None:
        with self._lock, contextlib.closing(self._open()) as conn, conn:
            conn.executemany(
                "INSERT OR REPLACE INTO models (path, signature, summary, error, quality_signature, quality)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        path,
                        row.signature,
                        json.dumps(row.summary.to_json()) if row.summary else None,
                        row.error,
                        row.quality_signature,
                        json.dumps(row.quality.to_json()) if row.quality else None,
                    )
                    for path, row in rows.items()
                ],
            )
            stale = [(p,) for (p,) in conn.execute("SELECT path FROM models") if p not in keep_set]
            conn.executemany("DELETE FROM models WHERE path = ?", stale)


def _disk_full(exc: sqlite3.DatabaseError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)


def _index_disk_full(path: Path) -> DiskFullError:
    return DiskFullError(
        f"The library index could not be saved: the disk holding {path.parent} is full",
        hint="free some space; models are listed meanwhile, only more slowly",
    )
