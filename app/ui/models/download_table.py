"""The download queue as a table: one row per item, progress/speed/ETA refreshed from progress events."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from app.core.names import display_name
from app.core.units import format_bytes, format_duration, format_rate
from app.downloads.items import DownloadItem, ItemProgress, ItemState
from app.ui.models.table import Index, RowTableModel

ITEM_ROLE = Qt.ItemDataRole.UserRole + 1
FRACTION_ROLE = Qt.ItemDataRole.UserRole + 2  # float 0..1 for the progress delegate, None when unknown

COLUMNS = ("Model", "Repository", "Progress", "Size", "Speed", "Time left", "Status", "")
COL_NAME, COL_REPO, COL_PROGRESS, COL_SIZE, COL_SPEED, COL_ETA, COL_STATUS, COL_ACTIONS = range(len(COLUMNS))

STATE_TEXT = {
    ItemState.QUEUED: "Queued",
    ItemState.RUNNING: "Downloading",
    ItemState.PAUSED: "Paused",
    ItemState.DONE: "Done",
    ItemState.FAILED: "Failed",
    ItemState.CANCELLED: "Cancelled",
}
_ERROR_COLOUR = QColor("#d93025")


def segments_text(progress: ItemProgress) -> str:
    """The connections of a segmented download, one line each (the progress cell's tooltip)."""
    # `segments` holds every piece of the file (about 8 per connection); the ones being fetched are listed.
    n = progress.connections
    finished = sum(1 for s in progress.segments if s.state == "done")
    lines = [f"{n} connection{'' if n == 1 else 's'}, {finished} of {len(progress.segments)} pieces done"]
    for seg in (s for s in progress.segments if s.state in ("active", "retrying")):
        size = max(seg.end - seg.start, 0)
        share = f"{100 * seg.done_bytes / size:.0f}%" if size else "–"
        speed = f", {format_rate(seg.speed)}" if seg.state == "active" else ""
        lines.append(
            f"#{seg.index + 1}  {format_bytes(seg.start)} – {format_bytes(seg.end)}: {share} {seg.state}{speed}"
        )
    return "\n".join(lines)


class DownloadTableModel(RowTableModel):
    columns = COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[DownloadItem] = []
        self._progress: dict[str, ItemProgress] = {}

    # contents ------------------------------------------------------------------------------------------------
    def reset(self, items: list[DownloadItem], progress: dict[str, ItemProgress]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self._progress = dict(progress)
        self.endResetModel()

    def upsert(self, item: DownloadItem) -> None:
        row = self.row_of(item.id)
        if row is None:
            self.beginInsertRows(QModelIndex(), len(self._items), len(self._items))
            self._items.append(item)
            self.endInsertRows()
            return
        self._items[row] = item
        if item.state != ItemState.RUNNING:
            old = self._progress.get(item.id)
            done = item.total_bytes or 0 if item.state == ItemState.DONE else (old.done_bytes if old else 0)
            self._progress[item.id] = ItemProgress(item.id, done, item.total_bytes, 0.0, None)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def remove(self, item_id: str) -> None:
        row = self.row_of(item_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._items[row]
        self._progress.pop(item_id, None)
        self.endRemoveRows()

    def set_progress(self, progress: ItemProgress) -> None:
        row = self.row_of(progress.item_id)
        if row is None:
            return
        self._progress[progress.item_id] = progress
        self.dataChanged.emit(self.index(row, COL_PROGRESS), self.index(row, COL_STATUS))

    def row_of(self, item_id: str) -> int | None:
        for row, item in enumerate(self._items):
            if item.id == item_id:
                return row
        return None

    def item(self, row: int) -> DownloadItem:
        return self._items[row]

    def items(self) -> list[DownloadItem]:
        return list(self._items)

    def progress_of(self, item_id: str) -> ItemProgress | None:
        return self._progress.get(item_id)

    # Qt model API ----------------------------------------------------------------------------------------------
    def row_count(self) -> int:
        return len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.has_row(index):
            return None
        item = self._items[index.row()]
        progress = self._progress.get(item.id)
        column = index.column()
        if role == ITEM_ROLE:
            return item
        if role == FRACTION_ROLE:
            return self._fraction(item, progress)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(item, progress, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_STATUS and item.error:
                return item.error
            if column == COL_NAME:
                return "\n".join(display_name(n) for n in item.filenames)
            if column == COL_STATUS and progress is not None and progress.note:
                return progress.note
            if column == COL_PROGRESS and progress is not None and progress.segments:
                return segments_text(progress)
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATUS and item.state == ItemState.FAILED:
            return QBrush(_ERROR_COLOUR)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_SIZE, COL_SPEED, COL_ETA):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _fraction(item: DownloadItem, progress: ItemProgress | None) -> float | None:
        if item.state == ItemState.DONE:
            return 1.0
        return progress.fraction if progress is not None else None

    def _text(self, item: DownloadItem, progress: ItemProgress | None, column: int) -> str:
        running = item.state == ItemState.RUNNING
        if column == COL_NAME:
            return display_name(item.title)
        if column == COL_REPO:
            return display_name(item.repo_id)
        if column == COL_PROGRESS:
            fraction = self._fraction(item, progress)
            return f"{fraction * 100:.0f}%" if fraction is not None else "–"
        if column == COL_SIZE:
            total = item.total_bytes or (progress.total_bytes if progress else None)
            if total is None:
                return "–"
            done = progress.done_bytes if progress and item.state != ItemState.DONE else total
            return format_bytes(total) if done >= total else f"{format_bytes(done)} / {format_bytes(total)}"
        if column == COL_SPEED:
            return format_rate(progress.speed) if running and progress else ""
        if column == COL_ETA:
            if running and progress and progress.eta is not None:
                return format_duration(progress.eta)
            return ""
        if column == COL_STATUS:
            if item.state == ItemState.FAILED and item.error:
                return f"Failed: {item.error}"
            if running and progress is not None and progress.note:
                return progress.note.capitalize()
            return STATE_TEXT[item.state]
        return ""
