"""The right-click menu of a table row: select the row, offer the actions that apply to it."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QTableView


def show_row_menu(table: QTableView, actions: Iterable[QAction], pos: QPoint) -> QMenu | None:
    index = table.indexAt(pos)
    if not index.isValid():
        return None
    table.selectRow(index.row())
    menu = QMenu(table)
    for action in actions:
        if action.isEnabled():
            menu.addAction(action)
    menu.popup(table.viewport().mapToGlobal(pos))
    return menu
