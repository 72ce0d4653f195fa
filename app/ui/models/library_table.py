"""The library as a table: one row per model (a split set is one row); unreadable files show their error."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from app.core.names import display_name
from app.core.units import format_bytes, format_count
from app.gguf.naming import quant_label
from app.library.entries import LibraryEntry
from app.quantize.quality_file import KLD_EXPLAINED
from app.ui.models.table import Index, RowTableModel

ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

# The file name and quant tell apart the rows of one model (four "Gemma 3 270m" rows are four files).
COLUMNS = ("Name", "Quant", "File", "Architecture", "Parameters", "Quality", "Size", "Context", "Location")
COL_NAME, COL_QUANT, COL_FILE, COL_ARCH, COL_PARAMS, COL_QUALITY, COL_SIZE, COL_CONTEXT, COL_LOCATION = range(
    len(COLUMNS)
)
_ERROR_COLOUR = QColor("#d93025")


class LibraryTableModel(RowTableModel):
    columns = COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._entries: list[LibraryEntry] = []

    def set_entries(self, entries: list[LibraryEntry]) -> None:
        if entries == self._entries:
            return
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def entry(self, row: int) -> LibraryEntry:
        return self._entries[row]

    def entries(self) -> list[LibraryEntry]:
        return list(self._entries)

    def row_of(self, path: str) -> int | None:
        for row, entry in enumerate(self._entries):
            if str(entry.path) == path:
                return row
        return None

    # Qt model API ----------------------------------------------------------------------------------------------
    def row_count(self) -> int:
        return len(self._entries)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole and section == COL_QUALITY:
            return KLD_EXPLAINED
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.has_row(index):
            return None
        entry = self._entries[index.row()]
        column = index.column()
        if role == ENTRY_ROLE:
            return entry
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(entry, column)
        if role == SORT_ROLE:
            return self._sort_key(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if entry.error:
                return f"{display_name(str(entry.path))}\n\n{entry.error}"
            if column in (COL_NAME, COL_FILE, COL_LOCATION):
                return "\n".join(display_name(str(f)) for f in entry.files)
            if column == COL_QUALITY:
                return quality_tooltip(entry)
        if role == Qt.ItemDataRole.ForegroundRole and entry.error and column == COL_ARCH:
            return QBrush(_ERROR_COLOUR)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_PARAMS, COL_SIZE, COL_CONTEXT):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _text(entry: LibraryEntry, column: int) -> str:
        summary = entry.summary
        if column == COL_NAME:
            return display_name(entry.name)
        if column == COL_SIZE:
            return format_bytes(entry.size)
        if column == COL_FILE:
            return display_name(entry.path.name) + (f" (+{len(entry.files) - 1} parts)" if len(entry.files) > 1 else "")
        if column == COL_LOCATION:
            return display_name(_location(entry))
        if summary is None:
            return f"Unreadable: {entry.error}" if column == COL_ARCH else ""
        if column == COL_ARCH:
            return summary.architecture or "?"
        if column == COL_PARAMS:
            return format_count(summary.parameters) if summary.parameters else "?"
        if column == COL_QUANT:
            return summary.quant or quant_label(entry.path.name) or "?"
        if column == COL_CONTEXT:
            return f"{summary.context_length:,}" if summary.context_length else "?"
        if column == COL_QUALITY:
            return entry.quality.label() if entry.quality else ""
        return ""

    @staticmethod
    def _sort_key(entry: LibraryEntry, column: int) -> Any:
        summary = entry.summary
        if column == COL_PARAMS:
            return summary.parameters or 0 if summary else -1
        if column == COL_SIZE:
            return entry.size
        if column == COL_CONTEXT:
            return summary.context_length or 0 if summary else -1
        if column == COL_QUALITY:  # best (lowest divergence) first; models without a score last
            return entry.quality.mean_kld if entry.quality else float("inf")
        return LibraryTableModel._text(entry, column).lower()


def quality_tooltip(entry: LibraryEntry) -> str:
    """Rich text (names from the sidecar are escaped): what the score says, then how it was made."""
    if entry.quality is None:
        return f"<p>{html.escape(KLD_EXPLAINED)}</p><p>No quality check for this file: quantize with the check on.</p>"
    lines = "<br>".join(html.escape(line) for line in entry.quality.describe().splitlines())
    return f"<p>{lines}</p><p>{html.escape(KLD_EXPLAINED)}</p>"


def _location(entry: LibraryEntry) -> str:
    """`models/publisher/repo`: the library folder's name and the path inside it (the tooltip has it all)."""
    try:
        inside = entry.folder.relative_to(entry.root).as_posix()
    except ValueError:
        return str(entry.folder)
    return entry.root.name if inside == "." else f"{entry.root.name}/{inside}"
