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
