"""The download manager for the UI: its thread callbacks become Qt signals; one instance per app (`ctx.downloads`).

Build it with `download_service(ctx)`; Discover calls `ctx.downloads.enqueue(repo_id, filenames, revision)`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from app.core.errors import AppError
from app.core.settings import Preferences, Settings
from app.downloads.items import DownloadEvent, DownloadItem, ItemChanged, ItemProgress, ItemRemoved, ItemState
from app.downloads.job import DownloadConfig
from app.downloads.manager import DownloadManager
from app.downloads.store import QueueStore
from app.ui.messages import message_bridge

log = logging.getLogger("app.ui")

SERVICE_NAME = "downloads"


class DownloadService(QObject):
    item_changed = Signal(object)  # DownloadItem
    item_removed = Signal(str)  # item id
    progress = Signal(object)  # ItemProgress, ≤ 4 Hz per running item
    completed = Signal(object)  # DownloadItem that just became DONE (the library rescans)

    def __init__(
        self,
        settings: Settings,
        parent: QObject | None = None,
        *,
        store: QueueStore | None = None,
        config: DownloadConfig | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self.manager = DownloadManager(
            settings.models_path,
            store=store,
            max_parallel=settings.values.download_parallel,
            config=config,
        )
        self._states = {i.id: i.state for i in self.manager.items()}
        self._tray: QSystemTrayIcon | None = None
        self.manager.subscribe(self._on_event)  # runs on manager threads: only emit signals here
        self.item_changed.connect(self._announce)
        self._unsubscribe = settings.subscribe(self._on_settings)

    # commands (GUI thread) ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.manager.start()

    def enqueue(self, repo_id: str, filenames: Sequence[str], revision: str = "main") -> DownloadItem:
        """Queue a download (all parts of a split set in one call). Raises AppError for a bad repo or file name;
        failures later show in the item (and through the message bridge)."""
        return self.manager.enqueue(repo_id, list(filenames), revision)

    def pause(self, item_id: str) -> None:
        self.manager.pause(item_id)

    def resume(self, item_id: str) -> None:
        self.manager.resume(item_id)

    def cancel(self, item_id: str) -> None:
        self.manager.cancel(item_id)

    def retry(self, item_id: str) -> None:
        self.manager.retry(item_id)

    def remove(self, item_id: str) -> None:
        self.manager.remove(item_id)

    def items(self) -> list[DownloadItem]:
        return self.manager.items()

    def progress_of(self, item_id: str) -> ItemProgress:
        return self.manager.progress(item_id)

    def shutdown(self) -> None:
        """Stop transfers (they stay queued on disk); safe to call more than once."""
        self._unsubscribe()
        self.manager.shutdown()

    # callbacks ---------------------------------------------------------------------------------------------
    def _on_event(self, event: DownloadEvent) -> None:
        if isinstance(event, ItemChanged):
            self.item_changed.emit(event.item)
        elif isinstance(event, ItemRemoved):
            self.item_removed.emit(event.item_id)
        elif isinstance(event, ItemProgress):
            self.progress.emit(event)

    def _announce(self, item: DownloadItem) -> None:
        before = self._states.get(item.id)
        self._states[item.id] = item.state
        if before == item.state:
            return
        if item.state == ItemState.DONE:
            text = f"Downloaded and verified {item.title}"
            message_bridge().info(text)
            self._notify("Download finished", text)
            self.completed.emit(item)
        elif item.state == ItemState.FAILED:
            message_bridge().error(f"Download of {item.title} failed: {item.error}")

    def _notify(self, title: str, text: str) -> None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if self._tray is None:
            from app.ui.theme import app_icon

            self._tray = QSystemTrayIcon(app_icon(), self)
            self._tray.show()
        self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 5000)

    def _on_settings(self, old: Preferences, new: Preferences) -> None:
        if old.download_parallel != new.download_parallel:
            self.manager.set_max_parallel(new.download_parallel)


def download_service(ctx: Any) -> DownloadService:
    """The app's service (`ctx.downloads`), created, registered and started on first use."""
    service = ctx.services.get(SERVICE_NAME)
    if service is None:
        service = DownloadService(ctx.settings)
        ctx.services[SERVICE_NAME] = service
        service.start()
    return service


def reveal_targets(item: DownloadItem) -> Path | None:
    """The folder holding an item's files (for 'Show in folder')."""
    try:
        return item.targets()[0].parent
    except AppError:
        return None
