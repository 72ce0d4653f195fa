"""A repository's quants with their fit on this machine (one row per quant; a split set is one row)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont

from app.core.names import display_name
from app.estimate.verdict import VERDICT_WORDS
from app.hub.fit import QuantFit, RepoFit
from app.hub.models import Quant
from app.ui.models.table import Index, RowTableModel

FIT_ROLE = Qt.ItemDataRole.UserRole + 1  # the row's QuantFit (None until verdicts are known)
QUANT_ROLE = Qt.ItemDataRole.UserRole + 2
# Headers on two lines where their values are short: the memory bars get the width (never clipped at 1280 px).
COLUMNS = ("Quant", "Bits/\nweight", "Size", "Fit", "Max\ncontext", "Memory\n(VRAM | RAM)", "")
COL_QUANT, COL_BPW, COL_SIZE, COL_FIT, COL_MAX_CTX, COL_MEMORY, COL_DOWNLOAD = range(7)
GIB = 1024**3



HEADER_TIPS = {
    COL_BPW: "File bits per parameter: more bits, closer to the original model",
    COL_MAX_CTX: "The longest context the verdict holds at on this machine",
    COL_MEMORY: "What the model needs of the GPU's memory (VRAM) and of the computer's memory (RAM), "
    "weights, KV cache and buffers included",
}


def repack_words(repack_bytes: int) -> str:
    """Why a smaller quant can need more RAM than a larger one: the CPU backend's repacked copy."""
    return (
        f"Includes {human_size(repack_bytes)} of repacked weights: llama.cpp's CPU backend keeps a second copy of\n"
        "the weights whose type it can rearrange for faster matrix products (its CPU_REPACK buffer).\n"
        "So a quant whose type repacks (Q4_K_M, Q4_0) can need more RAM than a larger one whose type\n"
        "does not (Q5_K_M)."
    )


def context_words(n_ctx: int) -> str:
    """A context length as people say it: 32768 -> "32k", 1280 -> "1.25k", 0 -> "–"."""
    if n_ctx <= 0:
        return "–"
    if n_ctx < 1024:
        return str(n_ctx)
    return f"{n_ctx / 1024:.2f}".rstrip("0").rstrip(".") + "k"


def human_size(n: int) -> str:
    if n >= GIB:
        return f"{n / GIB:.2f} GiB"
    return f"{n / 1024**2:.0f} MiB"


class QuantTableModel(RowTableModel):
    columns = COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._quants: list[Quant] = []
        self._fits: list[QuantFit | None] = []
        self._n_params: int | None = None
        self.reason = ""

    def set_quants(self, quants: tuple[Quant, ...], n_params: int | None) -> None:
        self.beginResetModel()
        self._quants = list(quants)
        self._fits = [None] * len(quants)
        self._n_params = n_params
        self.reason = ""
        self.endResetModel()

    def set_fit(self, fit: RepoFit) -> None:
        """Verdicts for the current quants (ignored if they belong to another list)."""
        if [f.quant for f in fit.fits] != self._quants:
            return
        self._fits = list(fit.fits)
        self.reason = fit.reason
        if self._quants:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._quants) - 1, len(COLUMNS) - 1))

    def quant(self, row: int) -> Quant:
        return self._quants[row]

    def fit(self, row: int) -> QuantFit | None:
        return self._fits[row]

    def recommended_row(self) -> int | None:
        return next((i for i, f in enumerate(self._fits) if f is not None and f.recommended), None)

    def row_count(self) -> int:
        return len(self._quants)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.has_row(index):
            return None
        q, fit, col = self._quants[index.row()], self._fits[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(q, fit, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(q, fit)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_BPW, COL_SIZE, COL_MAX_CTX):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and fit is not None and fit.recommended:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.BackgroundRole and fit is not None and fit.recommended:
            return QColor(91, 91, 240, 40)
        if role == FIT_ROLE:
            return fit
        if role == QUANT_ROLE:
            return q
        return None

    def _display(self, q: Quant, fit: QuantFit | None, col: int) -> str | None:
        if col == COL_QUANT:
            parts = f"  ({len(q.files)} parts)" if q.is_split else ""
            star = "★ " if fit is not None and fit.recommended else ""
            return f"{star}{display_name(q.label)}{parts}"
        if col == COL_BPW:
            bpw = q.bits_per_weight(self._n_params)
            return f"{bpw:.2f}" if bpw else "–"
        if col == COL_SIZE:
            return human_size(q.size)
        if col == COL_FIT:
            return VERDICT_WORDS[fit.verdict.kind] if fit is not None else "…"  # the counts: tooltip
        if col == COL_MAX_CTX:
            if fit is None:
                return ""
            return context_words(fit.verdict.max_ctx) if fit.verdict.exact else "?"
        if col == COL_MEMORY:
            if fit is None:
                return ""
            return f"{human_size(fit.verdict.vram_bytes)} | {human_size(fit.verdict.ram_bytes)}"
        return None

    def _tooltip(self, q: Quant, fit: QuantFit | None) -> str:
        lines = [f"{display_name(q.label)}: {human_size(q.size)}"]
        lines += [f"  {display_name(f.path)}" + (f"\n    sha256 {f.sha256}" if f.sha256 else "") for f in q.files]
        if fit is not None:
            v = fit.verdict
            lines.append(f"{v.label}: {human_size(v.vram_bytes)} VRAM, {human_size(v.ram_bytes)} RAM")
            if not v.exact:
                lines.append("estimated from the file size (header not read yet)")
            elif v.max_ctx:
                lines.append(f"The verdict holds up to {v.max_ctx:,} tokens of context")
            repack = v.detail.estimate.repack_bytes if v.detail is not None else 0
            if repack:
                lines.append(repack_words(repack))
            if fit.recommended:
                lines.append(f"Recommended: {self.reason}")
        return "\n".join(lines)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(section)
        return super().headerData(section, orientation, role)
