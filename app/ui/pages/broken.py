"""What the window shows in place of a page whose constructor raised: the problem and where the log is.

A broken page is a bug: the window stays usable, but `MainWindow.broken_pages`, the tests and `--self-test`
count it as a failure.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from app.core import paths
from app.ui.pages.registry import PageSpec
from app.ui.widgets.page_header import PAGE_MARGINS, page_subtitle, page_title


class BrokenPage(QWidget):
    def __init__(self, spec: PageSpec, problem: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problem = problem
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PAGE_MARGINS)
        card = QFrame()
        card.setObjectName("BrokenPageCard")
        card_layout = QVBoxLayout(card)
        self.body = QLabel(
            f"GGUF Studio hit a bug while opening {spec.title}: {problem}\n\n"
            f"The details are in the log file: {paths.log_file()}\n"
            "The other pages work; please include the log when reporting this."
        )
        self.body.setWordWrap(True)
        self.body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        card_layout.addWidget(self.body)
        layout.addWidget(page_title(spec.title))
        layout.addWidget(page_subtitle(spec.blurb))
        layout.addSpacing(16)
        layout.addWidget(card)
        layout.addStretch(1)
