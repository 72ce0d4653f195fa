"""A page inside a scroll area that only scrolls below the page's minimum size.

QScrollArea's own resizing gives a page with word-wrapped labels its preferred height (height-for-width), so a
page that could shrink into the window would scroll instead; here the page fills the viewport and is never made
smaller than its minimum size hint, which is when the scroll bars appear."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


class PageScroll(QScrollArea):
    def __init__(self, page: QWidget) -> None:
        super().__init__()
        self._page = page
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(page)
        page.installEventFilter(self)

    def page(self) -> QWidget:
        return self._page

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._page and event.type() == QEvent.Type.LayoutRequest:
            self._fit()
        return super().eventFilter(watched, event)

    def _fit(self) -> None:
        page = self._page
        need = page.minimumSizeHint().expandedTo(page.minimumSize())
        room = self.maximumViewportSize()
        # A scroll bar for one direction takes room from the other.
        if need.width() > room.width():
            room.setHeight(room.height() - self.horizontalScrollBar().sizeHint().height())
        if need.height() > room.height():
            room.setWidth(room.width() - self.verticalScrollBar().sizeHint().width())
            if need.width() > room.width():
                room.setHeight(min(room.height(), self.maximumViewportSize().height()
                                   - self.horizontalScrollBar().sizeHint().height()))
        size = QSize(max(room.width(), need.width()), max(room.height(), need.height()))
        if page.size() != size:
            page.resize(size)
