"""The queue on disk: one JSON file in the data dir, replaced atomically on every state change."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from app.core.atomic import write_text_atomic
from app.downloads.items import DownloadItem, ItemState

log = logging.getLogger("app.downloads")

FORMAT_VERSION = 1


def default_store_path() -> Path:
    from app.core.paths import data_dir

    return data_dir() / "downloads.json"


class QueueStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_store_path()
        self._lock = threading.Lock()
        self._saved_version = -1

    def load(self) -> list[DownloadItem]:
        """Items as saved; ones that were running when the app stopped are queued again."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
            items = [DownloadItem.from_json(entry) for entry in data["items"]]
        except (ValueError, KeyError, TypeError) as exc:
            broken = self.path.with_name(self.path.name + ".broken")
            log.error("download queue %s is unreadable (%s); keeping it as %s", self.path, exc, broken.name)
            os.replace(self.path, broken)
            return []
        return [i.with_(state=ItemState.QUEUED) if i.state == ItemState.RUNNING else i for i in items]

    def save(self, items: Iterable[DownloadItem], version: int) -> None:
        """Write a snapshot; `version` grows with each change: an old snapshot never replaces a new one."""
        text = json.dumps({"version": FORMAT_VERSION, "items": [i.to_json() for i in items]}, indent=1)
        with self._lock:
            if version <= self._saved_version:
                return
            write_text_atomic(self.path, text)
            self._saved_version = version


class BackgroundSaver:
    """Writes queue snapshots on a thread of its own: an fsync can take long on a busy disk, and state changes
    come from the GUI thread. Only the newest pending snapshot is written; `flush()` waits until it is."""

    def __init__(self, store: QueueStore) -> None:
        self._store = store
        self._cond = threading.Condition()
        self._pending: tuple[list[DownloadItem], int] | None = None
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="download-queue-saver", daemon=True)
        self._thread.start()

    def submit(self, items: list[DownloadItem], version: int) -> None:
        with self._cond:
            if not self._closed:
                self._pending = (items, version)
                self._cond.notify_all()
                return
        self._store.save(items, version)  # after close(): nothing runs in the background any more

    def flush(self, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(5.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                (items, version), self._pending = self._pending, None
                self._busy = True
            try:
                self._store.save(items, version)
            except Exception as exc:  # the queue keeps working in memory; the next change tries again
                log.error("could not save the download queue: %s", exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
