"""The message column: one widget per message, markdown rendered, code blocks with a copy link."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.chat.render import render_markdown

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


class _AutoHeightBrowser(QTextBrowser):
    """A read-only rich text view as tall as its text (the surrounding scroll area scrolls)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(self.verticalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(self.horizontalScrollBarPolicy().ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().setDocumentMargin(2)

    def fit(self) -> None:
        self.document().setTextWidth(max(50, self.viewport().width()))
        height = int(self.document().size().height()) + 6
        if height != self.height():
            self.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit()


class MessageWidget(QFrame):
    editRequested = Signal(int)  # message id
    regenerateRequested = Signal()
    versionRequested = Signal(int, int)  # message id, index of the version to show

    def __init__(self, role: str, message_id: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.message_id = message_id
        self.text = ""
        self._code: tuple[str, ...] = ()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName(f"message-{role}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        header = QHBoxLayout()
        title = QLabel(f"<b>{ROLE_TITLES.get(role, role)}</b>")
        self.stats_label = QLabel("")
        self.stats_label.setEnabled(False)
        header.addWidget(title)
        # ‹ 1/2 ›: the answers of a regenerated reply
        self._version = (0, 1)
        self.previous_button = self._button("‹", "The previous answer", lambda: self._step(-1))
        self.version_label = QLabel("")
        self.next_button = self._button("›", "The next answer", lambda: self._step(1))
        for widget in (self.previous_button, self.version_label, self.next_button):
            widget.setVisible(False)
            header.addWidget(widget)
        header.addWidget(self.stats_label)
        header.addStretch(1)
        self.copy_button = self._button("Copy", "Copy the whole message", self._copy_all)
        header.addWidget(self.copy_button)
        self.edit_button = self._button(
            "Edit", "Edit this message and send it again", lambda: self.editRequested.emit(self.message_id)
        )
        self.edit_button.setVisible(role == "user")
        header.addWidget(self.edit_button)
        self.regenerate_button = self._button("Regenerate", "Answer again", self.regenerateRequested.emit)
        self.regenerate_button.setVisible(False)
        header.addWidget(self.regenerate_button)
        layout.addLayout(header)
        self.body = _AutoHeightBrowser(self)
        self.body.anchorClicked.connect(self._on_anchor)
        layout.addWidget(self.body)

    def _button(self, text: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def set_text(self, text: str, *, streaming: bool = False) -> None:
        self.text = text
        rendered = render_markdown(text, streaming=streaming)
        self._code = rendered.code_blocks
        self.body.setHtml(rendered.html or "&nbsp;")
        self.body.fit()

    def set_stats(self, text: str) -> None:
        self.stats_label.setText(text)

    def set_versions(self, index: int, count: int, *, enabled: bool = True) -> None:
        """Shows ‹ index+1/count › when a reply has more than one answer."""
        self._version = (index, count)
        for widget in (self.previous_button, self.version_label, self.next_button):
            widget.setVisible(count > 1)
        self.version_label.setText(f"{index + 1}/{count}")
        self.previous_button.setEnabled(enabled and index > 0)
        self.next_button.setEnabled(enabled and index < count - 1)

    def _step(self, delta: int) -> None:
        index, count = self._version
        if 0 <= index + delta < count:
            self.versionRequested.emit(self.message_id, index + delta)

    def _copy_all(self) -> None:
        QGuiApplication.clipboard().setText(self.text)

    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() == "copy":
            index = int(url.path() or "0")
            if 0 <= index < len(self._code):
                QGuiApplication.clipboard().setText(self._code[index])


class MessageList(QScrollArea):
    """Messages top to bottom; follows the newest text unless the user scrolled up."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self._inner = QWidget()
        self._layout = QVBoxLayout(self._inner)
        self._layout.setContentsMargins(6, 6, 6, 6)
        self._layout.addStretch(1)
        self.setWidget(self._inner)
        # Our own list: wrappers of layout items from itemAt() can outlive their C++ objects in PySide.
        self._widgets: list[MessageWidget] = []
        self._notes: list[QLabel] = []
        self._follow = True
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range)

    @property
    def widgets(self) -> list[MessageWidget]:
        return list(self._widgets)

    @property
    def notes(self) -> list[QLabel]:
        return list(self._notes)

    def clear(self) -> None:
        for widget in (*self._widgets, *self._notes):
            self._layout.removeWidget(widget)
            widget.hide()
            widget.deleteLater()
        self._widgets.clear()
        self._notes.clear()
        self._follow = True

    def add_note(self, text: str) -> QLabel:
        """A line about the conversation itself (how it is prompted), between messages."""
        note = QLabel(f"<i>{text}</i>", self._inner)
        note.setObjectName("chat-note")
        note.setWordWrap(True)
        note.setTextFormat(Qt.TextFormat.RichText)
        note.setEnabled(False)  # drawn in the disabled (dimmed) text colour of the theme
        self._layout.insertWidget(len(self._widgets) + len(self._notes), note)
        self._notes.append(note)
        return note

    def add(self, role: str, text: str, message_id: int = 0, *, streaming: bool = False) -> MessageWidget:
        widget = MessageWidget(role, message_id, self._inner)
        widget.set_text(text, streaming=streaming)
        self._layout.insertWidget(len(self._widgets) + len(self._notes), widget)
        self._widgets.append(widget)
        self._follow = True
        return widget

    def _on_scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 8

    def _on_range(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)
