"""The quant ladder: each quant of a repository as a point, file size against expected quality, over bands
showing which sizes fit in VRAM and in RAM. A picture for choosing at a glance."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.estimate.verdict import VERDICT_WORDS, VerdictKind
from app.ui.widgets.quant_badge import BADGE_COLOURS

GIB = 1024**3
MIB = 1024**2
_NOMINAL_BPW = {
    "Q2_K": 2.6,
    "Q3_K_S": 3.5,
    "Q3_K_M": 3.9,
    "Q3_K_L": 4.3,
    "IQ4_XS": 4.3,
    "Q4_0": 4.5,
    "Q4_K_S": 4.6,
    "Q4_K_M": 4.9,
    "Q5_K_S": 5.5,
    "Q5_K_M": 5.7,
    "Q6_K": 6.6,
    "Q8_0": 8.5,
    "F16": 16.0,
    "BF16": 16.0,
    "F32": 32.0,
}


def nominal_bpw(label: str) -> float | None:
    """Bits per weight a quant type usually has, when the parameter count is unknown."""
    if label.upper() in _NOMINAL_BPW:
        return _NOMINAL_BPW[label.upper()]
    m = re.match(r"I?Q(\d)", label.upper())
    return float(m.group(1)) + 0.5 if m else None


def expected_quality(bpw: float) -> float:
    """A rough, monotone guess of quality relative to 16-bit weights (100): steep below 4 bits, flat above 6.
    Only for the picture's vertical axis; it is not a benchmark."""
    return max(0.0, min(100.0, 100.0 * (1.0 - 0.5 * math.exp(-0.9 * (bpw - 2.0)))))


@dataclass(frozen=True, slots=True)
class LadderPoint:
    label: str
    size: int
    bpw: float
    kind: VerdictKind | None
    recommended: bool


class QuantLadder(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._points: list[LadderPoint] = []
        self.setMinimumHeight(120)  # a repository with many quants and a projector still fits 1280×800
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip("File size against expected quality; shaded bands show what fits in VRAM and in RAM.")

    def set_points(self, points: list[LadderPoint]) -> None:
        self._points = sorted(points, key=lambda p: p.size)
        self.update()

    def band_edges(self) -> tuple[float | None, float | None]:
        """Sizes where "fits in VRAM" and "runs at all" end, drawn between the last quant that makes it and
        the first that does not (verdicts include the KV cache and overheads, so the edges are not plain
        free-memory figures). None: no such band."""
        gpu = {VerdictKind.FULL_GPU}
        runs = {VerdictKind.FULL_GPU, VerdictKind.EXPERTS_CPU, VerdictKind.PARTIAL, VerdictKind.CPU_ONLY}
        return self._edge(gpu), self._edge(runs)

    def _edge(self, kinds: set[VerdictKind]) -> float | None:
        inside = [p.size for p in self._points if p.kind in kinds]
        if not inside:
            return None
        outside = [p.size for p in self._points if p.kind not in kinds and p.size > max(inside)]
        if not outside:
            return float("inf")
        return (max(inside) + min(outside)) / 2

    def points(self) -> list[LadderPoint]:
        return list(self._points)

    def sizeHint(self) -> QSize:
        return QSize(480, 200)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        muted = pal.color(QPalette.ColorRole.PlaceholderText)
        plot = QRectF(self.rect()).adjusted(48, 22, -16, -30)
        p.fillRect(plot, pal.color(QPalette.ColorRole.Base))
        if not self._points:
            p.setPen(muted)
            p.drawText(plot, int(Qt.AlignmentFlag.AlignCenter), "No GGUF model files in this repository")
            p.end()
            return
        x_max = max(p_.size for p_ in self._points) * 1.08
        x_min = min(p_.size for p_ in self._points) * 0.8
        if x_max - x_min < x_max * 0.2:  # one quant, or all of about one size
            x_min = 0.0
        y_min, y_max = min(60.0, min(expected_quality(pt.bpw) for pt in self._points) - 3), 101.0

        def px(size: float) -> float:
            return plot.left() + plot.width() * min(max((size - x_min) / (x_max - x_min), 0.0), 1.0)

        def py(q: float) -> float:
            return plot.bottom() - plot.height() * (q - y_min) / (y_max - y_min)

        self._bands(p, plot, px, x_max)
        p.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        p.drawRect(plot)
        small = QFont(self.font())
        small.setPointSizeF(max(small.pointSizeF() - 1.5, 7))
        p.setFont(small)
        p.setPen(muted)
        for q in range(int(math.ceil(y_min / 10) * 10), 101, 10):
            p.drawText(
                QRectF(0, py(q) - 8, plot.left() - 6, 16),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                f"{q}%",
            )
        unit, unit_name = (GIB, "GiB") if x_max >= GIB else (MIB, "MiB")  # "150 MiB", not "0.15 G"
        step = _nice_step((x_max - x_min) / unit)
        tick = math.ceil(x_min / unit / step) * step
        while tick * unit < x_max:
            x = px(tick * unit)
            label = f"{tick:.4g} {unit_name}"
            p.drawText(QRectF(x - 40, plot.bottom() + 3, 80, 14), int(Qt.AlignmentFlag.AlignHCenter), label)
            tick += step
        p.drawText(
            QRectF(plot.left(), plot.bottom() + 15, plot.width(), 14), int(Qt.AlignmentFlag.AlignRight), "file size →"
        )
        p.save()
        p.translate(12, plot.center().y())
        p.rotate(-90)
        p.drawText(QRectF(-60, -8, 120, 16), int(Qt.AlignmentFlag.AlignCenter), "expected quality")
        p.restore()

        path = QPainterPath()
        for i, pt in enumerate(self._points):
            pos = QPointF(px(pt.size), py(expected_quality(pt.bpw)))
            if i == 0:
                path.moveTo(pos)
            else:
                path.lineTo(pos)
        p.setPen(QPen(muted, 1.2, Qt.PenStyle.DashLine))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        p.setFont(small)
        for pt in self._points:
            pos = QPointF(px(pt.size), py(expected_quality(pt.bpw)))
            colour = BADGE_COLOURS.get(pt.kind, muted) if pt.kind is not None else muted
            if pt.recommended:
                p.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 2.5))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawEllipse(pos, 9, 9)
            p.setPen(QPen(colour.darker(120), 1))
            p.setBrush(colour)
            p.drawEllipse(pos, 5, 5)
            p.setPen(text)
            p.drawText(QRectF(pos.x() - 40, pos.y() - 22, 80, 14), int(Qt.AlignmentFlag.AlignHCenter), pt.label)
        p.end()

    def _bands(self, p: QPainter, plot: QRectF, px: Callable[[float], float], x_max: float) -> None:
        bands: list[tuple[float, float, QColor, str]] = []
        if any(p_.kind is None for p_ in self._points):
            return
        vram_edge, run_edge = self.band_edges()
        start = 0.0
        if vram_edge is not None:
            bands.append((0.0, vram_edge, BADGE_COLOURS[VerdictKind.FULL_GPU], VERDICT_WORDS[VerdictKind.FULL_GPU]))
            start = vram_edge
        if run_edge is not None and run_edge > start:
            label = VERDICT_WORDS[VerdictKind.PARTIAL if vram_edge is not None else VerdictKind.CPU_ONLY]
            colour = BADGE_COLOURS[VerdictKind.CPU_ONLY]
            inside = {pt.kind for pt in self._points if start <= pt.size < run_edge}
            if inside == {VerdictKind.EXPERTS_CPU}:  # a mixture of experts: every layer on the GPU, experts in RAM
                label, colour = VERDICT_WORDS[VerdictKind.EXPERTS_CPU], BADGE_COLOURS[VerdictKind.EXPERTS_CPU]
            bands.append((start, run_edge, colour, label))
            start = run_edge
        if start < x_max:
            bands.append((start, x_max, BADGE_COLOURS[VerdictKind.WONT_FIT], VERDICT_WORDS[VerdictKind.WONT_FIT]))
        small = QFont(self.font())
        small.setPointSizeF(max(small.pointSizeF() - 1.5, 7))
        p.setFont(small)
        for start, stop, colour, label in bands:
            if start >= x_max:
                continue
            x0, x1 = px(start), px(min(stop, x_max))
            fill = QColor(colour)
            fill.setAlpha(28)
            p.fillRect(QRectF(x0, plot.top(), x1 - x0, plot.height()), fill)
            p.setPen(colour)
            p.drawText(
                QRectF(x0 + 5, plot.bottom() - 18, max(x1 - x0 - 8, 0), 16),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                label,
            )


def _nice_step(span: float) -> float:
    raw = span / 5 if span > 0 else 1
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag
