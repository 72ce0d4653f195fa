"""How a search result's first column looks: the model's name, and its author (and gating) beneath it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.ui.models.hub_results import RESULT_ROLE, age
from app.ui.widgets.cell import draw_cell_background

ROW_HEIGHT = 42


class RepoNameDelegate(QStyledItemDelegate):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # repo id → what this machine has of it ("in your library", "downloading"), or None; set by the page
        self.local_state: Callable[[str], str | None] = lambda _repo_id: None

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        opt, _text = draw_cell_background(self, painter, option, index)
        result = index.data(RESULT_ROLE)
        if result is None:
            return
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        main_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        rect = QRectF(opt.rect).adjusted(6, 3, -6, -3)
        name_font = QFont(opt.font)
        name_font.setBold(True)
        small = QFont(opt.font)
        small.setPointSizeF(max(small.pointSizeF() - 1.5, 7))
        bits = [result.author]
        if result.architecture:
            bits.append(result.architecture)
        bits.append(f"updated {age(result.last_modified)}")
        if result.gated:
            bits.append("gated")
        local = self.local_state(result.repo_id)
        if local:
            bits.insert(0, local)
        painter.save()
        painter.setPen(opt.palette.color(main_role))
        painter.setFont(name_font)
        top = QRectF(rect.left(), rect.top(), rect.width(), rect.height() / 2 + 2)
        name = QFontMetrics(name_font).elidedText(result.name, Qt.TextElideMode.ElideMiddle, int(rect.width()))
        painter.drawText(top, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), name)
        painter.setFont(small)
        if not selected:
            painter.setPen(opt.palette.color(QPalette.ColorRole.PlaceholderText))
        bottom = QRectF(rect.left(), top.bottom() - 2, rect.width(), rect.height() / 2)
        line = QFontMetrics(small).elidedText(" · ".join(bits), Qt.TextElideMode.ElideRight, int(rect.width()))
        painter.drawText(bottom, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), line)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        base = super().sizeHint(option, index)
        return QSize(base.width(), max(base.height(), ROW_HEIGHT))
