"""The title and subtitle every page opens with, and the margins around a page (styled in style.qss)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

PAGE_MARGINS = (24, 16, 24, 12)  # left, top, right, bottom


def page_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("PageTitle")
    return label


def page_subtitle(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("PageSubtitle")
    label.setWordWrap(True)
    return label
