"""What a page shows while its capability has not been built yet, or when it failed to load."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from app.ui.pages.registry import PageSpec
from app.ui.widgets.page_header import PAGE_MARGINS, page_subtitle, page_title


class PlaceholderPage(QWidget):
    def __init__(self, spec: PageSpec, problem: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PAGE_MARGINS)
        title = page_title(spec.title)
        subtitle = page_subtitle(spec.blurb)
        card = QFrame()
        card.setObjectName("PlaceholderCard")
        card_layout = QVBoxLayout(card)
        if problem:
            text = f"This page could not be opened: {problem}\nThe log file has the details."
        else:
            text = (
                f"{spec.title} is not built yet. It arrives with issue {spec.issue}; "
                "everything else in the app works without it."
            )
        body = QLabel(text)
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        card_layout.addWidget(body)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(16)
        layout.addWidget(card)
        layout.addStretch(1)
