"""Discover's filters over the search results: model size, architecture and "fits this machine".

They narrow what the Hub returned (a page at a time); the Hub search itself stays a plain text search.
"fits this machine" counts a result in when its most common download — a Q4_K_M-sized file of its parameter
count, with a margin for the KV cache and buffers — fits the RAM and VRAM free now; a result whose size the Hub
does not know is left out (the detail's verdicts say more for each file).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QWidget

from app.estimate.hardware import HardwareSpec
from app.hub.models import SearchResult
from app.ui.models.hub_results import RESULT_ROLE

B = 1_000_000_000
SIZES: tuple[tuple[str, int, int | None], ...] = (
    ("Any size", 0, None),
    ("Under 1B", 0, B),
    ("1B – 4B", B, 4 * B),
    ("4B – 14B", 4 * B, 14 * B),
    ("14B – 40B", 14 * B, 40 * B),
    ("Over 40B", 40 * B, None),
)
ANY_ARCH = "Any architecture"
Q4_BYTES_PER_PARAM = 4.85 / 8  # Q4_K_M, the quant most people download
FIT_MARGIN = 1.2  # KV cache, compute buffers and the runtime on top of the weights


def likely_fits(n_params: int | None, spec: HardwareSpec | None) -> bool:
    if not n_params or spec is None:
        return False
    memory = spec.ram_available + (spec.vram_free if spec.has_gpu else 0)
    return n_params * Q4_BYTES_PER_PARAM * FIT_MARGIN <= memory


@dataclass(frozen=True, slots=True)
class Filters:
    size: int = 0  # index into SIZES
    architecture: str | None = None
    fits: bool = False

    @property
    def active(self) -> bool:
        return self.size != 0 or self.architecture is not None or self.fits


def accepts(result: SearchResult, filters: Filters, spec: HardwareSpec | None) -> bool:
    _label, low, high = SIZES[filters.size]
    n = result.n_params
    if filters.size and (n is None or n < low or (high is not None and n >= high)):
        return False
    if filters.architecture is not None and (result.architecture or "") != filters.architecture:
        return False
    return not filters.fits or likely_fits(result.n_params, spec)


class ResultsFilter(QSortFilterProxyModel):
    """The search results the filters let through, in the Hub's order."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.filters = Filters()
        self.spec: HardwareSpec | None = None

    def set_filters(self, filters: Filters, spec: HardwareSpec | None) -> None:
        self.beginFilterChange()
        self.filters, self.spec = filters, spec
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self.filters.active:
            return True
        source = self.sourceModel()
        result = source.index(source_row, 0, source_parent).data(RESULT_ROLE) if source is not None else None
        return result is None or accepts(result, self.filters, self.spec)


class FilterBar(QWidget):
    changed = Signal(object)  # Filters

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.size_box = QComboBox()
        for label, _low, _high in SIZES:
            self.size_box.addItem(label)
        self.size_box.setToolTip("Parameter count, as the Hub reports it")
        self.arch_box = QComboBox()
        self.arch_box.addItem(ANY_ARCH)
        self.arch_box.setToolTip("The model family (llama, qwen3, gemma3, …) of the results found so far")
        self.arch_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.fits_box = QCheckBox("Fits this machine")
        self.fits_box.setToolTip("Only models whose Q4_K_M file, with room for the context, fits the memory free now")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Show"))
        layout.addWidget(self.size_box)
        layout.addWidget(self.arch_box)
        layout.addWidget(self.fits_box)
        layout.addStretch(1)
        self.size_box.currentIndexChanged.connect(lambda _i: self.changed.emit(self.filters()))
        self.arch_box.currentIndexChanged.connect(lambda _i: self.changed.emit(self.filters()))
        self.fits_box.toggled.connect(lambda _on: self.changed.emit(self.filters()))

    def filters(self) -> Filters:
        arch = self.arch_box.currentText()
        return Filters(self.size_box.currentIndex(), None if arch == ANY_ARCH else arch, self.fits_box.isChecked())

    def set_architectures(self, results: list[SearchResult]) -> None:
        """Offer the architectures of the results found so far (the choice in effect stays)."""
        current = self.arch_box.currentText()
        names = sorted({r.architecture for r in results if r.architecture} | ({current} - {ANY_ARCH}))
        if names == [self.arch_box.itemText(i) for i in range(1, self.arch_box.count())]:
            return
        self.arch_box.blockSignals(True)
        self.arch_box.clear()
        self.arch_box.addItem(ANY_ARCH)
        self.arch_box.addItems(names)
        self.arch_box.setCurrentText(current)
        self.arch_box.blockSignals(False)
