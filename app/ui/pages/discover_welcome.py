"""First start: Discover proposes one model to begin with, one that fits this machine.

Shown while the library lists no model (app.ui.pages.discover_library asks, in a worker). The proposal is the
most downloaded (not gated) repository of the first results whose size fits the memory free now, and in it the
quant the recommender picks (app.estimate.recommend, through the detail pane's verdicts), with its reason.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

from app.core.errors import AppError
from app.estimate.hardware import HardwareSpec
from app.hub.fit import RepoFit
from app.hub.models import Quant, SearchResult
from app.ui.models.hub_quants import human_size
from app.ui.pages.discover_filters import likely_fits
from app.ui.tasks import TaskControl


def first_pick(results: Iterable[SearchResult], spec: HardwareSpec | None) -> SearchResult | None:
    """The most downloaded result a new user can download and run here."""
    fitting = [r for r in results if not r.gated and likely_fits(r.n_params, spec)]
    return max(fitting, key=lambda r: r.downloads, default=None)


def first_fit(_control: TaskControl, repo_id: str, spec: HardwareSpec, n_ctx: int) -> RepoFit:
    """The proposal's verdicts, in a worker: its own look-up (the detail pane may show another repository)."""
    from app.hub import repo_detail
    from app.hub.fit import fit_quants, reference_shape

    detail = repo_detail(repo_id)
    try:
        reference = reference_shape(detail)
    except AppError:
        reference = None  # verdicts by file size
    return fit_quants(detail, spec, n_ctx, reference)


class WelcomeCard(QFrame):
    download_requested = Signal(object)  # Quant

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("WelcomeCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.repo_id: str | None = None
        self.quant: Quant | None = None
        self.label = QLabel("Welcome! Looking for a first model that fits this machine…")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.button = QPushButton("Download")
        self.button.setObjectName("welcome-download")
        self.button.hide()
        self.button.clicked.connect(self._download)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Hide")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

    def nothing_fits(self) -> None:
        self.label.setText(
            "Welcome! None of the popular models found so far fits the memory free now: search for a smaller "
            "one (the Fit column says what runs here)."
        )

    def propose(self, repo_id: str, fit: RepoFit) -> bool:
        """Offer the recommended quant of `repo_id`; False when nothing of it fits."""
        best = fit.recommended
        if best is None:
            return False
        self.repo_id, self.quant = repo_id, best.quant
        self.label.setText(
            f"<b>Welcome! A first model that fits this machine: {html.escape(repo_id.split('/')[-1])} "
            f"{html.escape(best.quant.label)}</b> ({human_size(best.quant.size)}) · {html.escape(best.verdict.label)}."
            " Its files and why it was picked are on the right."
        )
        self.button.setText(f"Download {best.quant.label}")
        self.button.show()
        return True

    def _download(self) -> None:
        if self.quant is not None:
            self.download_requested.emit(self.quant)
            self.hide()
