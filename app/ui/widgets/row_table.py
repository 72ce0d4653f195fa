"""Tables of items (downloads, library models): whole-row selection, read-only, a right-click menu."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QMenu, QTableView


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


def setup_row_table(table: QTableView, on_context_menu: Callable[[QPoint], None]) -> None:
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    table.customContextMenuRequested.connect(on_context_menu)
