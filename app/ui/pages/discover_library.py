"""What Discover knows of the library: which repositories are in the models folder, and whether there is any
model yet (a first start). A library scan in a worker answers (warm, it reads no header); the GUI thread only
looks names up in the answer, never walks a folder.

Scanned once the page has painted and again after each finished download; a download that finishes counts at
once, before its scan ends.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from PySide6.QtCore import QObject, Signal

from app.core.errors import AppError
from app.downloads.items import DownloadItem
from app.downloads.layout import split_repo_id
from app.library.presence import LibraryPresence, library_folders
from app.ui.context import AppContext
from app.ui.pages.discover_tasks import connect_task
from app.ui.tasks import Task, TaskControl, run_task

log = logging.getLogger("app.ui.discover")


def _scan(_control: TaskControl, folders: list[Path], models_dir: Path) -> LibraryPresence:
    from app.library.presence import scan_presence

    return scan_presence(folders, models_dir)


class LibraryPresenceWatch(QObject):
    changed = Signal(object)  # LibraryPresence: after each scan, and at once when a download finishes

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.presence: LibraryPresence | None = None  # None until the first scan ends
        self._task: Task | None = None
        self._again = False  # the folders changed while a scan ran: one more scan after it
        ctx.downloads.completed.connect(self._on_completed)

    def refresh(self) -> None:
        if self._task is not None:
            self._again = True
            return
        self._again = False
        settings = self.ctx.settings
        self._task = run_task(_scan, library_folders(settings), settings.models_path(), name="library presence")
        connect_task(self, self._task, self._on_scanned, self._on_failed)

    def _on_scanned(self, presence: LibraryPresence) -> None:
        self._task = None
        self.presence = presence
        self.changed.emit(presence)
        if self._again:
            self.refresh()

    def _on_failed(self, exc: BaseException) -> None:
        self._task = None
        log.info("could not list the library for Discover: %s", exc)
        if self._again:
            self.refresh()

    def _on_completed(self, item: DownloadItem) -> None:
        try:
            folder = PurePosixPath(*split_repo_id(item.repo_id))
        except AppError:
            folder = None
        if self.presence is not None and folder is not None:
            self.presence = self.presence.with_folder(folder, item.targets())
            self.changed.emit(self.presence)
        self.refresh()
