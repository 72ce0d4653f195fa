"""The download queue for the UI: one instance per app (`ctx.downloads`), created with the window.

The object is light: the queue itself (the download manager, its threads and its saved state) is created on
first use (`start()` after the first paint, or the first command), so building it never delays the window.
Its thread callbacks become Qt signals; `completed` tells the Library that a model arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from app.core.errors import AppError
from app.core.names import display_name
from app.core.settings import Preferences, Settings
from app.downloads.items import DownloadEvent, DownloadItem, ItemChanged, ItemProgress, ItemRemoved, ItemState
from app.ui.messages import message_bridge

if TYPE_CHECKING:
    from app.downloads.job import DownloadConfig
    from app.downloads.manager import DownloadManager
    from app.downloads.store import QueueStore

log = logging.getLogger("app.ui")


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
        self._store, self._config = store, config
        self._manager: DownloadManager | None = None
        self._closed = False
        self._states: dict[str, ItemState] = {}
        self._tray: QSystemTrayIcon | None = None
        self.item_changed.connect(self._announce)
        self.item_removed.connect(lambda item_id: message_bridge().dismiss(failure_key(item_id)))
        self._unsubscribe = settings.subscribe(self._on_settings)

    @property
    def started(self) -> bool:
        """Whether the queue exists (and resumed what an earlier run left)."""
        return self._manager is not None

    @property
    def manager(self) -> DownloadManager:
        """The queue, created and started on first use (a queue saved by an earlier run resumes then)."""
        return self._ensure()

    def _ensure(self) -> DownloadManager:
        if self._manager is None:
            from app.downloads.job import DownloadConfig
            from app.downloads.manager import DownloadManager
            from app.downloads.priority import NICE
            from app.library.presence import library_folders

            # Transfers yield the CPU to the window (the event-loop stall while downloading, #22).
            config = replace(
                self._config or DownloadConfig(), segments=self._settings.values.download_segments, nice=NICE
            )
            manager = DownloadManager(
                self._settings.models_path,
                store=self._store,
                max_parallel=self._settings.values.download_parallel,
                config=config,
                library_folders=lambda: library_folders(self._settings),
            )
            self._states = {i.id: i.state for i in manager.items()}
            manager.subscribe(self._on_event)  # runs on manager threads: only emit signals here
            self._manager = manager
            if self._closed:
                manager.shutdown()  # used after the app closed its services: readable, but transfers nothing
            else:
                manager.start()
        return self._manager

    # commands (GUI thread) ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Create the queue now (the window calls this after its first paint); safe to call more than once."""
        if not self._closed:
            self._ensure()

    def enqueue(self, repo_id: str, filenames: Sequence[str], revision: str = "main") -> DownloadItem:
        """Queue a download (all parts of a split set in one call). Raises AppError for a bad repo or file name;
        failures later show in the item (and through the message bridge). The same files asked for again never
        make a second row (the manager's rule: see DownloadManager.enqueue)."""
        return self.manager.enqueue(repo_id, list(filenames), revision)

    def find(self, repo_id: str, filenames: Sequence[str]) -> DownloadItem | None:
        """The newest item for exactly these files of this repository, in any state."""
        return self.manager.find(repo_id, filenames)

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
        """Stop transfers (they stay queued on disk); safe to call more than once. A queue never used is
        never created."""
        if not self._closed:
            self._closed = True
            self._unsubscribe()
        if self._manager is not None:
            self._manager.shutdown()

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
        if before == ItemState.FAILED:
            message_bridge().dismiss(failure_key(item.id))  # retried: the failure is no longer news
        if item.state == ItemState.DONE:
            text = f"Downloaded and verified {display_name(item.title)}"
            message_bridge().info(text)
            self._notify("Download finished", text)
            self.completed.emit(item)
        elif item.state == ItemState.FAILED:
            message_bridge().error(
                f"Download of {display_name(item.title)} failed: {item.error}",
                page="downloads",
                key=failure_key(item.id),
            )

    def _notify(self, title: str, text: str) -> None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if self._tray is None:
            from app.ui.theme import app_icon

            self._tray = QSystemTrayIcon(app_icon(), self)
            self._tray.show()
        self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 5000)

    def _on_settings(self, old: Preferences, new: Preferences) -> None:
        if old.download_parallel != new.download_parallel and self._manager is not None:
            self._manager.set_max_parallel(new.download_parallel)
        if old.download_segments != new.download_segments and self._manager is not None:
            self._manager.set_segments(new.download_segments)
        if old.models_dir != new.models_dir and self._manager is not None:
            self._manager.models_dir_changed()  # waiting items follow; running ones land, then move or stay


def failure_key(item_id: str) -> str:
    """The message key of an item's failure (dismissed when the item is retried or removed)."""
    return f"download-failed:{item_id}"


def reveal_targets(item: DownloadItem) -> Path | None:
    """The folder holding an item's files (for 'Show in folder')."""
    try:
        return item.targets()[0].parent
    except AppError:
        return None
