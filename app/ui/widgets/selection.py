"""A selected row that stays readable: a light tint of the highlight colour behind the row's own colours.

Tables whose cells paint coloured badges and bars (Discover's quants) become blue on blue under the theme's
solid highlight; with the tint, every colour in the row keeps its contrast and the row still reads as selected.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QApplication

TINT = 0.22  # share of the highlight colour in the selected row's background


def blend(base: QColor, over: QColor, share: float) -> QColor:
    return QColor(
        round(base.red() + (over.red() - base.red()) * share),
        round(base.green() + (over.green() - base.green()) * share),
        round(base.blue() + (over.blue() - base.blue()) * share),
    )


# A theme switch, and the palette resets Qt does when a widget above the view is reparented or polished.
_AGAIN = (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange, QEvent.Type.Polish)


class _Follow(QObject):
    """Re-tints whenever the palette lost the tint."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _AGAIN and isinstance(watched, QAbstractItemView) and not _tinted(watched):
            _apply(watched)
        return False


def _tinted(view: QAbstractItemView) -> bool:
    app_palette = QApplication.palette(view)
    expected = blend(
        app_palette.color(QPalette.ColorRole.Base), app_palette.color(QPalette.ColorRole.Highlight), TINT
    )
    return view.palette().color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight) == expected


def _apply(view: QAbstractItemView) -> None:
    app_palette = QApplication.palette(view)
    palette = view.palette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        base = app_palette.color(group, QPalette.ColorRole.Base)
        highlight = app_palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight)
        palette.setColor(group, QPalette.ColorRole.Highlight, blend(base, highlight, TINT))
        palette.setColor(group, QPalette.ColorRole.HighlightedText, app_palette.color(group, QPalette.ColorRole.Text))
    view.setPalette(palette)


def soft_selection(view: QAbstractItemView) -> None:
    """Give `view` the tinted selection, now and after every theme change."""
    _apply(view)
    follower = _Follow(view)
    view.installEventFilter(follower)
