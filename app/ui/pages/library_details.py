"""The Library's details pane: everything about the selected model, and what to do with it."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QResizeEvent, QTextOption
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.names import display_name
from app.core.units import format_bytes, format_count
from app.library.details import ModelDetails
from app.library.entries import LibraryEntry
from app.quantize.quality_file import KLD_EXPLAINED

PANE_WIDTH = 320
NO_TEMPLATE = "none: Chat can only continue text (a base model), or pick a built-in template"


def _value_label() -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)  # paths and names from files are never markup
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)  # wrap, never widen the pane
    return label


class PathView(QPlainTextEdit):
    """A whole path, wrapped anywhere (a path has no spaces to wrap at), selectable, never cut short."""

    def __init__(self) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.document().setDocumentMargin(0)

    def set_path(self, text: str) -> None:
        self.setPlainText(text)
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        # Wrapped anywhere, a path takes as many lines as its width fills (a little slack for glyph edges).
        width = max(1, self.viewport().width() - 4)
        lines = max(1, math.ceil(self.fontMetrics().horizontalAdvance(self.toPlainText()) * 1.03 / width))
        height = lines * self.fontMetrics().lineSpacing() + 6
        if height != self.height():
            self.setFixedHeight(height)


class LibraryDetails(QWidget):
    """Shows one entry: its row's facts at once, the header's details (template, metadata) once read."""

    FIELDS = (
        "Name",
        "File",
        "Size",
        "Architecture",
        "Parameters",
        "Quant",
        "Trained context",
        "Chat template",
        "Images",
        "Quality",
        "Problem",
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LibraryDetails")
        self.setMinimumWidth(220)
        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.heading.setWordWrap(True)
        self.heading.setStyleSheet("font-weight: 600; font-size: 15px;")
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.path = PathView()
        form.addRow("Path", self.path)
        for name in self.FIELDS:
            self.values[name] = _value_label()
            form.addRow(name, self.values[name])
        self._form = form
        self.chat_button = QPushButton("Load in Chat")
        self.chat_button.setDefault(True)
        self.reveal_button = QPushButton("Show in folder")
        buttons = QHBoxLayout()
        buttons.addWidget(self.chat_button)
        buttons.addWidget(self.reveal_button)
        buttons.addStretch(1)
        self.metadata = QPlainTextEdit()
        self.metadata.setReadOnly(True)
        self.metadata.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.metadata.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.metadata.setPlaceholderText("Reading the header…")
        self.metadata_label = QLabel("Metadata")
        self.placeholder = QLabel("Select a model to see its details.\n\nDrop GGUF files or folders here to import.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)

        form.setContentsMargins(0, 0, 0, 0)
        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.heading)
        body.addLayout(buttons)
        body.addLayout(form)
        body.addWidget(self.metadata_label)
        body.addWidget(self.metadata, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 0, 0, 0)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.body, 1)
        self.show_entry(None)

    def show_entry(self, entry: LibraryEntry | None) -> None:
        """The row's facts at once; `show_details` adds the header's once it is read off the GUI thread."""
        self.placeholder.setVisible(entry is None)
        self.body.setVisible(entry is not None)
        if entry is None:
            return
        summary = entry.summary
        self.heading.setText(display_name(entry.name))
        parts = f" (+{len(entry.files) - 1} more parts)" if len(entry.files) > 1 else ""
        self._set("Name", display_name(entry.name))
        self._set("File", display_name(entry.path.name) + parts)
        self.path.set_path(display_name(str(entry.path)))
        self._set("Size", format_bytes(entry.size))
        self._set("Architecture", summary.architecture or "?" if summary else "")
        self._set("Parameters", format_count(summary.parameters) if summary and summary.parameters else "")
        self._set("Quant", summary.quant or "?" if summary else "")
        context = summary.context_length if summary else None
        self._set("Trained context", f"{context:,} tokens" if context else "")
        self._set("Chat template", "")
        self._set("Images", "")
        self._set("Quality", entry.quality.describe() if entry.quality else "not measured (Quantize can)")
        self.values["Quality"].setToolTip(KLD_EXPLAINED if entry.quality else "")
        self._set("Problem", entry.error or "")
        self.chat_button.setEnabled(entry.usable)
        self.metadata.clear()
        self.metadata.setPlaceholderText("Reading the header…" if entry.usable else "The header cannot be read.")
        self.metadata_label.setVisible(entry.usable)
        self.metadata.setVisible(entry.usable)

    def show_details(self, details: ModelDetails) -> None:
        template = details.chat_template_chars
        self._set("Chat template", f"present ({template:,} characters)" if template else NO_TEMPLATE)
        projector = details.projector
        self._set("Images", f"yes, with {display_name(projector.name)} ({format_bytes(details.projector_size)})"
                  if projector else "")
        self.values["Images"].setToolTip("Chat loads this vision projector with the model" if projector else "")
        lines = [f"{key} = {display_name(value)}" for key, value in details.metadata]
        lines.append(f"({details.n_tensors:,} tensors, {details.bits_per_weight:.2f} bits per weight)")
        self.metadata.setPlainText("\n".join(lines))

    def show_details_error(self, message: str) -> None:
        self._set("Problem", message)
        self.metadata.setPlaceholderText("The header cannot be read.")

    def text(self, name: str) -> str:
        return self.values[name].text()

    def _set(self, name: str, text: str) -> None:
        label = self.values[name]
        label.setText(text)
        self._form.setRowVisible(label, bool(text))
