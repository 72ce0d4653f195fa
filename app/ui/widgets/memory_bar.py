"""A bar showing how a model's memory splits between VRAM and RAM, against what the machine has."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.ui.widgets.cell import draw_cell_background

VRAM_COLOUR = QColor("#7b61ff")
RAM_COLOUR = QColor("#1e9e8c")
OVER_COLOUR = QColor("#d93025")


def paint_memory_bar(
    painter: QPainter, rect: QRectF, vram: int, ram: int, vram_cap: int, ram_cap: int, palette: QPalette
) -> None:
    """Two tracks side by side, VRAM then RAM, each as wide as its share of the machine; the model's use
    fills them (red where it exceeds what is free)."""
    total_cap = max(vram_cap + ram_cap, 1)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    track = QColor(palette.color(QPalette.ColorRole.Mid))
    track.setAlpha(110)
    x = rect.left()
    for used, cap, colour in ((vram, vram_cap, VRAM_COLOUR), (ram, ram_cap, RAM_COLOUR)):
        if cap <= 0:
            continue
        width = rect.width() * cap / total_cap
        seg = QRectF(x, rect.top(), max(width - 2, 1), rect.height())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(track)
        painter.drawRoundedRect(seg, 3, 3)
        if used > 0:
            fill = QRectF(seg)
            fill.setWidth(seg.width() * min(used / cap, 1.0))
            painter.setBrush(colour if used <= cap else OVER_COLOUR)
            painter.drawRoundedRect(fill, 3, 3)
        x += width
    painter.restore()


class MemoryBarDelegate(QStyledItemDelegate):
    """Paints a memory bar from the row's QuantFit (role `fit_role`) against `caps()` -> (VRAM, RAM) bytes."""

    def __init__(self, fit_role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fit_role = fit_role
        self.vram_cap = 0
        self.ram_cap = 0

    def set_caps(self, vram_free: int, ram_available: int) -> None:
        self.vram_cap, self.ram_cap = vram_free, ram_available

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        opt, text = draw_cell_background(self, painter, option, index)
        fit = index.data(self._fit_role)
        rect = QRectF(opt.rect).adjusted(6, 6, -6, -6)
        if fit is None or (self.vram_cap + self.ram_cap) <= 0:
            return
        bar = QRectF(rect.left(), rect.top(), rect.width(), 7)
        paint_memory_bar(
            painter, bar, fit.verdict.vram_bytes, fit.verdict.ram_bytes, self.vram_cap, self.ram_cap, opt.palette
        )
        painter.save()
        painter.setPen(opt.palette.color(QPalette.ColorRole.PlaceholderText))
        font = painter.font()
        font.setPointSizeF(max(font.pointSizeF() - 1, 7))
        painter.setFont(font)
        shown = QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, int(rect.width()))
        painter.drawText(
            QRectF(rect.left(), bar.bottom() + 1, rect.width(), rect.bottom() - bar.bottom()),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            shown,
        )
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        base = super().sizeHint(option, index)
        return QSize(max(base.width(), 170), max(base.height(), 34))
