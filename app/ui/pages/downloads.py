"""The Downloads page: the queue with progress bars, speed, time left, state, errors and actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QHeaderView,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.core.names import display_name
from app.downloads.items import DownloadItem, ItemProgress, ItemState
from app.ui.context import AppContext
from app.ui.models.download_service import DownloadService, reveal_targets
from app.ui.models.download_table import (
    COL_ACTIONS,
    COL_NAME,
    COL_PROGRESS,
    COL_REPO,
    COL_STATUS,
    FRACTION_ROLE,
    ITEM_ROLE,
    DownloadTableModel,
)
from app.ui.pages.downloads_pieces import PiecesPanel
from app.ui.pages.downloads_row import ACTIONS_WIDTH, RowActions
from app.ui.widgets.page_header import PAGE_MARGINS, page_subtitle, page_title
from app.ui.widgets.row_table import setup_row_table, show_row_menu

Index = QModelIndex | QPersistentModelIndex


class ProgressDelegate(QStyledItemDelegate):
    """Draws the progress column as a horizontal progress bar (busy when the size is not known yet)."""

    def paint(self, painter: Any, option: QStyleOptionViewItem, index: Index) -> None:
        fraction = index.data(FRACTION_ROLE)
        item = index.data(ITEM_ROLE)
        busy = fraction is None and item is not None and item.state == ItemState.RUNNING
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(4, 4, -4, -4)
        bar.minimum = 0
        bar.maximum = 0 if busy else 1000  # busy: running, size not known yet
        bar.progress = int((fraction or 0.0) * 1000)
        bar.text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        # Qt 6 reads a progress bar's orientation from State_Horizontal; an item view's state lacks it, and
        # without it Fusion fills the bar from the bottom up.
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)


def open_folder(path: Path) -> bool:
    """Show a folder in the file manager (tests replace this)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


class DownloadsPage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service: DownloadService = ctx.downloads
        self.model = DownloadTableModel(self)

        title = page_title("Downloads")
        subtitle = page_subtitle("Files are verified against the Hub's sha256 and resume after a restart or crash.")

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(COL_PROGRESS, ProgressDelegate(self.table))
        setup_row_table(self.table, self._context_menu)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column in (COL_NAME, COL_REPO):  # name, repository and status share the rest (elided alike)
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_PROGRESS, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(COL_PROGRESS, 160)
        header.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_ACTIONS, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(COL_ACTIONS, ACTIONS_WIDTH)
        self.table.verticalHeader().setDefaultSectionSize(34)

        self.empty = QLabel("Nothing downloading. Pick a model in Discover and press Download.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.pieces = PiecesPanel()  # the selected download's piece map, while it is fetched in segments
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setOpenExternalLinks(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)

        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.pause_action = self.toolbar.addAction("Pause", lambda: self._act(self.service.pause))
        self.resume_action = self.toolbar.addAction("Resume", lambda: self._act(self.service.resume))
        self.cancel_action = self.toolbar.addAction("Cancel", lambda: self._act(self.service.cancel))
        self.retry_action = self.toolbar.addAction("Retry", lambda: self._act(self.service.retry))
        self.reveal_action = self.toolbar.addAction("Show in folder", self.reveal_selected)
        self.remove_action = self.toolbar.addAction("Remove from list", lambda: self._act(self.service.remove))
        self.toolbar.addSeparator()
        self.clear_action = self.toolbar.addAction("Clear finished", self.clear_finished)
        self._row_actions = (
            self.pause_action,
            self.resume_action,
            self.cancel_action,
            self.retry_action,
            self.reveal_action,
            self.remove_action,
        )

        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PAGE_MARGINS)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.pieces)
        layout.addWidget(self.details)

        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.model.rowsInserted.connect(self._update_visibility)
        self.model.rowsRemoved.connect(self._update_visibility)
        self.model.modelReset.connect(self._update_visibility)

        # Progress ticks (4 a second per download) only repaint their cells: buttons and actions follow state
        # changes. Every Python slot a tick runs waits for the GIL, which the download threads hold often.
        self.service.item_changed.connect(self._item_changed)
        self.service.item_removed.connect(self.model.remove)
        self.service.progress.connect(self._progress)
        items = self.service.items()
        self.model.reset(items, {i.id: self.service.progress_of(i.id) for i in items})
        self._update_actions()

    # selection and actions -------------------------------------------------------------------------------------
    def selected_item(self) -> DownloadItem | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.item(rows[0].row())

    def select(self, item_id: str) -> None:
        row = self.model.row_of(item_id)
        if row is not None:
            self.table.selectRow(row)

    def _act(self, action: Any) -> None:
        item = self.selected_item()
        if item is not None:
            action(item.id)

    def row_actions(self, item_id: str) -> RowActions | None:
        """The buttons at the end of an item's row."""
        row = self.model.row_of(item_id)
        widget = self.table.indexWidget(self.model.index(row, COL_ACTIONS)) if row is not None else None
        return widget if isinstance(widget, RowActions) else None

    def _row_action(self, verb: str, item_id: str) -> None:
        if verb == "chat":
            self.load_in_chat(item_id)
            return
        if verb == "access":
            row = self.model.row_of(item_id)
            if row is not None:
                open_url(license_url(self.model.item(row).repo_id))
            return
        actions = {
            "pause": self.service.pause,
            "resume": self.service.resume,
            "cancel": self.service.cancel,
            "retry": self.service.retry,
            "remove": self.service.remove,
        }
        actions[verb](item_id)

    def load_in_chat(self, item_id: str) -> None:
        row = self.model.row_of(item_id)
        if row is None:
            return
        item = self.model.item(row)
        if item.state == ItemState.DONE:
            self.ctx.navigate("chat", model=str(item.targets()[0]))  # a split set loads from its first part

    def _progress(self, progress: ItemProgress) -> None:
        self.model.set_progress(progress)
        if progress.item_id == self.pieces.item_id:
            self.pieces.update_progress(progress)

    def _item_changed(self, item: DownloadItem) -> None:
        self.model.upsert(item)
        self._sync_row_actions()
        self._update_actions()

    def _sync_row_actions(self, *_args: object) -> None:
        for row, item in enumerate(self.model.items()):
            index = self.model.index(row, COL_ACTIONS)
            widget = self.table.indexWidget(index)
            if not isinstance(widget, RowActions):
                widget = RowActions(self._row_action)
                self.table.setIndexWidget(index, widget)
            widget.set_item(item)

    def reveal_selected(self) -> None:
        item = self.selected_item()
        folder = reveal_targets(item) if item is not None else None
        while folder is not None and not folder.exists() and folder != folder.parent:
            folder = folder.parent  # nothing downloaded yet: the nearest folder that exists
        if folder is not None:
            open_folder(folder)

    def clear_finished(self) -> None:
        for item in self.model.items():
            if item.state in (ItemState.DONE, ItemState.CANCELLED):
                self.service.remove(item.id)

    def _context_menu(self, pos: QPoint) -> None:
        show_row_menu(self.table, self._row_actions, pos)

    def _update_actions(self, *_args: object) -> None:
        item = self.selected_item()
        state = item.state if item else None
        self.pause_action.setEnabled(state in (ItemState.QUEUED, ItemState.RUNNING))
        self.resume_action.setEnabled(state == ItemState.PAUSED)
        self.cancel_action.setEnabled(state in (ItemState.QUEUED, ItemState.RUNNING, ItemState.PAUSED))
        self.retry_action.setEnabled(state in (ItemState.FAILED, ItemState.CANCELLED))
        self.reveal_action.setEnabled(item is not None)
        self.remove_action.setEnabled(state in (ItemState.DONE, ItemState.FAILED, ItemState.CANCELLED))
        self.clear_action.setEnabled(any(i.state in (ItemState.DONE, ItemState.CANCELLED) for i in self.model.items()))
        self._show_details(item)
        self.pieces.show_item(item, self._pieces_progress(item))

    def _pieces_progress(self, item: DownloadItem | None) -> ItemProgress | None:
        if item is None:
            return None
        if item.state in (ItemState.PAUSED, ItemState.QUEUED, ItemState.FAILED) and self.service.manager.get(item.id):
            return self.service.progress_of(item.id)  # what is on disk (a small record, read on selection)
        return self.model.progress_of(item.id)

    def _show_details(self, item: DownloadItem | None) -> None:
        if item is None or item.state != ItemState.FAILED or not item.error:
            self.details.clear()
            self.details.hide()
            return
        text = _escape(item.error)
        if item.error_kind == "GatedRepoError":
            text += f' — <a href="{license_url(item.repo_id)}">open the license page</a>'
        self.details.setText(f"<b>{_escape(display_name(item.title))}</b>: {text}")
        self.details.show()

    def _update_visibility(self, *_args: object) -> None:
        has_rows = self.model.rowCount() > 0
        self.table.setVisible(has_rows)
        self.empty.setVisible(not has_rows)
        self._sync_row_actions()
        self._update_actions()

    # main window hooks -------------------------------------------------------------------------------------------
    def open_with(self, item_id: str | None = None, **_kwargs: Any) -> None:
        if item_id:
            self.select(item_id)

    def progress_of(self, item_id: str) -> ItemProgress | None:
        return self.model.progress_of(item_id)


def open_url(url: str) -> bool:
    """Open a web page in the browser (tests replace this)."""
    return QDesktopServices.openUrl(QUrl(url))


def license_url(repo_id: str) -> str:
    from app.core.hubenv import hub_endpoint

    return f"{hub_endpoint()}/{repo_id}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
