"""A piece map of the selected download: the file as one bar, like a torrent client's, showing which byte ranges
are on disk, which are being fetched right now and which are still to come."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.core.names import display_name
from app.core.units import format_bytes
from app.downloads.items import DownloadItem, ItemProgress, SegmentProgress
from app.downloads.ranges import Span, merge

RETRY_COLOUR = QColor("#e8a33d")  # a connection waiting to try its range again


@dataclass(frozen=True, slots=True)
class PieceSpans:
    """Byte ranges of the file by what is happening to them (each list merged, together they cover the file)."""

    done: tuple[Span, ...]
    fetching: tuple[Span, ...]  # the rest of a range a connection is receiving now
    retrying: tuple[Span, ...]
    missing: tuple[Span, ...]


def piece_spans(size: int, segments: Sequence[SegmentProgress]) -> PieceSpans:
    done: list[Span] = []
    fetching: list[Span] = []
    retrying: list[Span] = []
    missing: list[Span] = []
    for seg in segments:
        head = min(seg.end, seg.start + seg.done_bytes)
        done.append((seg.start, head))
        rest = (head, seg.end)
        {"active": fetching, "retrying": retrying}.get(seg.state, missing).append(rest)
    return PieceSpans(*(tuple(merge(s)) for s in (done, fetching, retrying, missing)))


class PieceMap(QWidget):
    """Paints `piece_spans`: on disk in the highlight colour, being fetched in a light shade of it (its
    connection's position a thin line), waiting to retry in amber, still to come empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.size_bytes = 0
        self.spans = PieceSpans((), (), (), ())
        self._heads: tuple[int, ...] = ()
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_segments(self, size: int, segments: Sequence[SegmentProgress]) -> None:
        self.size_bytes = size
        self.spans = piece_spans(size, segments)
        self._heads = tuple(s.start + s.done_bytes for s in segments if s.state == "active")
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        palette = self.palette()
        bar = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(bar, palette.color(QPalette.ColorRole.Base))
        if self.size_bytes > 0:
            highlight = palette.color(QPalette.ColorRole.Highlight)
            light = QColor(highlight)
            light.setAlpha(80)
            for spans, colour in (
                (self.spans.done, highlight),
                (self.spans.fetching, light),
                (self.spans.retrying, RETRY_COLOUR),
            ):
                for start, end in spans:
                    painter.fillRect(self._x_span(bar, start, end), colour)
            painter.setPen(highlight.darker(160))
            for head in self._heads:
                x = self._x(bar, head)
                painter.drawLine(int(x), int(bar.top()), int(x), int(bar.bottom()))
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(bar)
        painter.end()

    def _x(self, bar: QRectF, offset: int) -> float:
        return bar.left() + bar.width() * offset / self.size_bytes

    def _x_span(self, bar: QRectF, start: int, end: int) -> QRectF:
        left = self._x(bar, start)
        return QRectF(left, bar.top(), max(1.0, self._x(bar, end) - left), bar.height())


class PiecesPanel(QWidget):
    """The map with a line saying what it shows; hidden while the selected item has no segments."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item_id = ""
        self._name = ""
        self.caption = QLabel()
        self.legend = QLabel(_legend(self.palette()))
        self.map = PieceMap()
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.caption, 1)
        top.addWidget(self.legend)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.map)
        self.hide()

    def show_item(self, item: DownloadItem | None, progress: ItemProgress | None) -> None:
        self.item_id = item.id if item is not None else ""
        self._name = f"{display_name(item.title)}: " if item is not None else ""
        if item is None or progress is None or not progress.segments or not progress.total_bytes:
            self.hide()
            return
        self.update_progress(progress)

    def update_progress(self, progress: ItemProgress) -> None:
        if not progress.segments or not progress.total_bytes:
            self.hide()  # the file finished or fell back to one stream
            return
        segments = progress.segments
        finished = sum(1 for s in segments if s.state == "done")
        n = progress.connections
        self.caption.setText(
            f"{self._name}{n} connection{'' if n == 1 else 's'}, {finished} of {len(segments)} pieces done, "
            f"{format_bytes(progress.done_bytes)} of {format_bytes(progress.total_bytes)}"
        )
        self.map.set_segments(max(s.end for s in segments), segments)  # one file of the item: its own size
        if self.isHidden():
            self.show()


def _legend(palette: QPalette) -> str:
    highlight = palette.color(QPalette.ColorRole.Highlight)
    light = QColor(highlight).lighter(150).name()
    return (
        f'<span style="color:{highlight.name()}">■</span> on disk  '
        f'<span style="color:{light}">■</span> being fetched  '
        f'<span style="color:{RETRY_COLOUR.name()}">■</span> retrying  □ to come'
    )
