"""Search results as a table model; more rows are asked for (not fetched) when the view scrolls to the end."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal

from app.hub.models import SearchResult
from app.ui.models.table import Index, RowTableModel

RESULT_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Model", "Params", "Downloads", "Likes", "Updated")


def human_count(n: int | None) -> str:
    if n is None:
        return "–"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            value = n / size
            return f"{value:.1f}{unit}" if value < 100 else f"{value:.0f}{unit}"
    return str(n)


def age(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "–"
    now = now or datetime.now(timezone.utc)
    days = (now - when).days
    if days < 1:
        return "today"
    if days < 31:
        return f"{days} d ago"
    if days < 365:
        return f"{days // 30} mo ago"
    return f"{days // 365} y ago"


class SearchResultsModel(RowTableModel):
    columns = COLUMNS

    more_requested = Signal()  # the view reached the end and the Hub has more

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[SearchResult] = []
        self.has_more = False
        self.loading = False

    # contents ------------------------------------------------------------------------------------------------
    def reset(self, results: tuple[SearchResult, ...] = (), has_more: bool = False) -> None:
        self.beginResetModel()
        self._rows = list(results)
        self.has_more = has_more
        self.endResetModel()

    def append(self, results: tuple[SearchResult, ...], has_more: bool) -> None:
        known = {r.repo_id for r in self._rows}
        fresh = [r for r in results if r.repo_id not in known]
        if fresh:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            self._rows.extend(fresh)
            self.endInsertRows()
        self.has_more = has_more

    def result(self, row: int) -> SearchResult:
        return self._rows[row]

    def results(self) -> list[SearchResult]:
        return list(self._rows)

    # Qt model API ----------------------------------------------------------------------------------------------
    def row_count(self) -> int:
        return len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.has_row(index):
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return r.repo_id
            if col == 1:
                return human_count(r.n_params)
            if col == 2:
                return human_count(r.downloads)
            if col == 3:
                return human_count(r.likes)
            if col == 4:
                return age(r.last_modified)
        elif role == Qt.ItemDataRole.ToolTipRole:
            bits = [r.repo_id, f"{r.downloads:,} downloads, {r.likes:,} likes"]
            if r.architecture:
                bits.append(f"architecture: {r.architecture}")
            if r.gated:
                bits.append("gated: accept the license on the Hub to download")
            if r.last_modified:
                bits.append(f"updated {r.last_modified:%Y-%m-%d}")
            return "\n".join(bits)
        elif role == Qt.ItemDataRole.TextAlignmentRole and col > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == RESULT_ROLE:
            return r
        return None

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and self.has_more and not self.loading

    def fetchMore(self, parent: Index) -> None:
        if self.canFetchMore(parent):
            self.loading = True
            self.more_requested.emit()
