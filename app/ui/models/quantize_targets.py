"""The target checklist of the Quantize page: every quant type with its predicted size and fit verdict."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt

from app.core.units import format_bytes
from app.quantize.types import QUANT_TYPES, QuantType
from app.ui.models.table import Index, RowTableModel

COL_TYPE, COL_SIZE, COL_FIT, COL_NOTE = range(4)
HEADERS = ("Type", "Predicted size", "Fit", "Notes")
DEFAULT_CHECKED = ("Q4_K_M",)
# The types people pick most, best first; the rest of llama.cpp's list follows.
COMMON = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS", "Q3_K_M", "IQ3_M", "Q2_K", "IQ2_M", "IQ2_XS")


@dataclass(frozen=True, slots=True)
class TargetRow:
    qtype: QuantType
    checked: bool = False
    size: int | None = None
    fit: str = ""


class TargetsModel(RowTableModel):
    columns = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        order = [q for name in COMMON for q in QUANT_TYPES if q.name == name]
        order += [q for q in QUANT_TYPES if q.name not in COMMON]
        self._rows = [TargetRow(q, q.name in DEFAULT_CHECKED) for q in order]

    def row_count(self) -> int:
        return len(self._rows)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsUserCheckable if index.column() == COL_TYPE else base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.has_row(index):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.CheckStateRole and col == COL_TYPE:
            return Qt.CheckState.Checked if row.checked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_TYPE:
                return row.qtype.name
            if col == COL_SIZE:
                return format_bytes(row.size) if row.size is not None else "—"
            if col == COL_FIT:
                return row.fit or "—"
            if col == COL_NOTE:
                return row.qtype.description
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.qtype.needs_imatrix:
                return "Needs an importance matrix: one is computed from the calibration text if you give none"
            return row.qtype.description if col == COL_NOTE else None
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.CheckStateRole or index.column() != COL_TYPE:
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        self._rows[index.row()] = dataclasses.replace(self._rows[index.row()], checked=checked)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True

    def checked(self) -> list[QuantType]:
        return [r.qtype for r in self._rows if r.checked]

    def predicted(self, name: str) -> int | None:
        return next((r.size for r in self._rows if r.qtype.name == name), None)

    def set_checked(self, names: set[str]) -> None:
        self._rows = [dataclasses.replace(r, checked=r.qtype.name in names) for r in self._rows]
        self._changed(COL_TYPE, COL_TYPE)

    def set_estimates(self, sizes: Mapping[str, int], fits: Mapping[str, str]) -> None:
        self._rows = [
            dataclasses.replace(r, size=sizes.get(r.qtype.name), fit=fits.get(r.qtype.name, "")) for r in self._rows
        ]
        self._changed(COL_SIZE, COL_FIT)

    def _changed(self, first: int, last: int) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, first), self.index(len(self._rows) - 1, last))
