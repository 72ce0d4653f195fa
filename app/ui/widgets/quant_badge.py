"""A coloured pill for a quant's fit verdict (green: VRAM, amber: partial, blue: CPU, red: won't fit)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.estimate.verdict import VerdictKind
from app.ui.widgets.cell import draw_cell_background

BADGE_COLOURS = {
    VerdictKind.FULL_GPU: QColor("#188038"),
    VerdictKind.EXPERTS_CPU: QColor("#00796b"),  # teal: all layers on the GPU, some experts in RAM
    VerdictKind.PARTIAL: QColor("#b06000"),
    VerdictKind.CPU_ONLY: QColor("#1a73e8"),
    VerdictKind.WONT_FIT: QColor("#c5221f"),
}


class VerdictBadgeDelegate(QStyledItemDelegate):
    def __init__(self, fit_role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fit_role = fit_role

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        opt, text = draw_cell_background(self, painter, option, index)
        fit = index.data(self._fit_role)
        rect = QRectF(opt.rect)
        if fit is None:
            painter.drawText(rect.adjusted(8, 0, 0, 0), int(Qt.AlignmentFlag.AlignVCenter), text or "…")
            return
        colour = BADGE_COLOURS[fit.verdict.kind]
        if opt.palette.color(QPalette.ColorRole.Base).lightness() < 128:  # dark theme: keep the text readable
            colour = colour.lighter(160)
        metrics = QFontMetrics(painter.font())
        width = metrics.horizontalAdvance(text) + 18
        pill = QRectF(rect.left() + 6, rect.center().y() - 10, min(width, rect.width() - 12), 20)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(colour)
        fill.setAlpha(40)
        painter.setPen(colour)
        painter.setBrush(fill)
        painter.drawRoundedRect(pill, 10, 10)
        painter.drawText(pill, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        base = super().sizeHint(option, index)
        return QSize(base.width() + 24, max(base.height(), 30))
