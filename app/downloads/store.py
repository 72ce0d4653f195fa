"""The queue on disk: one JSON file in the data dir, merged and replaced atomically on every state change."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.core.atomic import write_text_atomic
from app.core.locking import locked
from app.downloads.items import DownloadItem, ItemState

log = logging.getLogger("app.downloads")

FORMAT_VERSION = 1


def default_store_path() -> Path:
    from app.core.paths import data_dir

    return data_dir() / "downloads.json"


class QueueStore:
    """The queue file, shared by every process on this home (app windows, CLI verbs).

    Each save is a read-merge-write under a cross-process lock: entries another process added are kept, so
    two writers never drop each other's items; an entry this store once held and no longer holds was removed.
    Files are replaced atomically, so a reader never sees half of one.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_store_path()
        self._lock = threading.Lock()
        self._saved_version = -1
        self._known: set[str] = set()  # ids loaded or saved here: missing from a save means removed by us

    def load(self) -> list[DownloadItem]:
        """Items as saved; ones that were running when the app stopped are queued again."""
        with locked(self.path):
            entries = self._read_entries(keep_broken=True)
        items: list[DownloadItem] = []
        for entry in entries:
            try:
                items.append(DownloadItem.from_json(entry))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("dropping an unreadable download queue entry (%s)", exc)
        with self._lock:
            self._known.update(i.id for i in items)
        return [i.with_(state=ItemState.QUEUED) if i.state == ItemState.RUNNING else i for i in items]

    def save(self, items: Iterable[DownloadItem], version: int) -> None:
        """Write a snapshot; `version` grows with each change: an old snapshot never replaces a new one."""
        ours = [i.to_json() for i in items]
        with self._lock:
            if version <= self._saved_version:
                return
            own_ids = {entry["id"] for entry in ours}
            with locked(self.path):
                theirs = [
                    e for e in self._read_entries(keep_broken=False)
                    if e.get("id") not in own_ids and e.get("id") not in self._known
                ]
                text = json.dumps({"version": FORMAT_VERSION, "items": ours + theirs}, indent=1)
                write_text_atomic(self.path, text)
            self._known |= own_ids
            self._saved_version = version

    def _read_entries(self, *, keep_broken: bool) -> list[dict[str, Any]]:
        """The raw entries on disk (entries of other processes are written back as they are)."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
            entries = data["items"]
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise TypeError("items is not a list of objects")
        except (ValueError, KeyError, TypeError) as exc:
            if keep_broken:
                broken = self.path.with_name(self.path.name + ".broken")
                log.error("download queue %s is unreadable (%s); keeping it as %s", self.path, exc, broken.name)
                os.replace(self.path, broken)
            else:
                log.error("download queue %s is unreadable (%s); writing ours over it", self.path, exc)
            return []
        return entries


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
