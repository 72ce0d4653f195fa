"""The Library page: every local model with its header facts, kept fresh by a folder watcher; a details pane
for the selected one; files and folders dropped on it are imported once their headers read."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QPoint, QSortFilterProxyModel, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QSplitter,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.names import display_name
from app.core.settings import Preferences
from app.core.units import format_bytes
from app.library.details import ModelDetails
from app.library.entries import LibraryEntry
from app.library.hfcache import CachedModelFile
from app.library.manage import ImportMode, ImportResult
from app.library.presence import library_folders
from app.quantize.quality_file import sidecar_path
from app.ui.context import AppContext
from app.ui.messages import message_bridge
from app.ui.models.library_table import (
    COL_ARCH,
    COL_FILE,
    COL_LOCATION,
    COL_NAME,
    COL_PARAMS,
    ENTRY_ROLE,
    SORT_ROLE,
    LibraryTableModel,
)
from app.ui.pages.library_details import PANE_WIDTH, LibraryDetails
from app.ui.pages.library_drop import accept_drag, take_drop
from app.ui.tasks import Task, TaskControl, run_task
from app.ui.widgets.page_header import PAGE_MARGINS, page_subtitle, page_title
from app.ui.widgets.row_table import setup_row_table, show_row_menu

log = logging.getLogger("app.ui")

RESCAN_DELAY_MS = 400  # a download or copy touches a folder many times: scan once it settles
POLL_MS = 60_000  # a warm scan is cheap; it catches what a watcher misses (network drives, too many folders)


def open_folder(path: Path) -> bool:
    """Show a folder in the file manager (tests replace this)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def ask_import_mode(parent: QWidget, count_text: str) -> ImportMode | None:
    box = QMessageBox(parent)
    box.setWindowTitle("Import models")
    box.setText(f"How should {count_text} come into the library?")
    box.setInformativeText("Copy keeps the originals; Move takes them; Link uses no extra space.")
    buttons = {
        box.addButton("Copy", QMessageBox.ButtonRole.AcceptRole): ImportMode.COPY,
        box.addButton("Move", QMessageBox.ButtonRole.AcceptRole): ImportMode.MOVE,
        box.addButton("Link", QMessageBox.ButtonRole.AcceptRole): ImportMode.LINK,
    }
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return buttons.get(box.clickedButton())  # type: ignore[call-overload]


def _scan(_control: TaskControl, folders: list[Path]) -> tuple[list[LibraryEntry], list[Path], float]:
    from app.library.scan import scan_library

    started = time.perf_counter()
    visited: list[Path] = []
    entries = scan_library(folders, visited=visited)
    return entries, visited, time.perf_counter() - started


def _import(_control: TaskControl, paths: list[Path], models_dir: Path, mode: ImportMode) -> ImportResult:
    from app.library.manage import import_files

    return import_files(paths, models_dir, mode)


def _import_hf(_control: TaskControl, files: list[CachedModelFile], models_dir: Path, mode: ImportMode) -> list[Path]:
    from app.library.hfcache import import_from_hf_cache

    return import_from_hf_cache(files, models_dir, mode)


def _details(_control: TaskControl, path: Path) -> ModelDetails:
    from app.library.details import read_details

    return read_details(path)


def _scan_hf(_control: TaskControl) -> list[CachedModelFile]:
    from app.library.hfcache import scan_hf_cache

    return scan_hf_cache()


class HfCacheDialog(QDialog):
    """Pick GGUF files from the Hugging Face cache, and whether to link or copy them."""

    def __init__(self, files: list[CachedModelFile], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import from the Hugging Face cache")
        self.files = files
        self.list = QListWidget()
        for file in files:
            item = QListWidgetItem(f"{file.repo_id} / {file.filename}  ({format_bytes(file.size)})")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.list.addItem(item)
        self.mode = QComboBox()
        self.mode.addItem("Link (no extra space; breaks if the cache is cleaned)", ImportMode.LINK)
        self.mode.addItem("Copy", ImportMode.COPY)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(files)} GGUF file(s) found in the Hugging Face cache:"))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.mode)
        layout.addWidget(buttons)

    def chosen(self) -> list[CachedModelFile]:
        return [f for i, f in enumerate(self.files) if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def chosen_mode(self) -> ImportMode:
        mode: ImportMode = self.mode.currentData()
        return mode


class LibraryPage(QWidget):
    scanned = Signal(object)  # list[LibraryEntry], after every scan
    details_shown = Signal(object)  # the LibraryEntry whose header details (or their error) the pane now shows
    import_finished = Signal(object)  # an import's ImportResult (a list of paths from the HF cache), or its error

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = LibraryTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setSortRole(SORT_ROLE)
        self._scan_task: Task | None = None
        self._other_tasks: set[Task] = set()
        self._dirty = False
        self._details_task: Task | None = None
        self._details_entry: LibraryEntry | None = None
        self._wanted: str | None = None  # a model asked for (open_with) before a scan listed it
        self.last_scan_seconds = 0.0
        self.setAcceptDrops(True)

        title = page_title("Library")
        self.subtitle = page_subtitle()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by name, architecture, quant or folder")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)

        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.chat_action = self.toolbar.addAction("Load in Chat", self.chat_selected)
        self.quantize_action = self.toolbar.addAction("Quantize", self.quantize_selected)
        self.reveal_action = self.toolbar.addAction("Show in folder", self.reveal_selected)
        self.delete_action = self.toolbar.addAction("Delete…", self.delete_selected)
        self.toolbar.addSeparator()
        import_menu = QMenu(self)
        import_menu.addAction("Files…", self._pick_files)
        import_menu.addAction("Folder…", self._pick_folder)
        import_menu.addAction("From the Hugging Face cache…", self._pick_hf_cache)
        self.import_action = QAction("Import", self)
        self.import_action.setMenu(import_menu)
        self.toolbar.addAction(self.import_action)
        import_button = self.toolbar.widgetForAction(self.import_action)
        if isinstance(import_button, QToolButton):
            import_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.rescan_action = self.toolbar.addAction("Rescan", self.rescan)
        self._row_actions = (self.chat_action, self.quantize_action, self.reveal_action, self.delete_action)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        setup_row_table(self.table, self._context_menu)
        self.table.doubleClicked.connect(lambda _index: self.chat_selected())
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Parameters are in the details pane: the room goes to the location, which tells rows apart.
        self.table.setColumnHidden(COL_PARAMS, True)
        for column, width in ((COL_NAME, 150), (COL_FILE, 190), (COL_ARCH, 90)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)  # an error message is elided in Architecture; the pane has it all
        header.setSectionResizeMode(COL_LOCATION, QHeaderView.ResizeMode.Stretch)

        self.details = LibraryDetails()
        self.details.chat_button.clicked.connect(self.chat_selected)
        self.details.reveal_button.clicked.connect(self.reveal_selected)
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)

        listing = QWidget()
        listing_layout = QVBoxLayout(listing)
        listing_layout.setContentsMargins(0, 0, 0, 0)
        listing_layout.addWidget(self.table, 1)
        listing_layout.addWidget(self.empty, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(listing)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([1000, PANE_WIDTH])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PAGE_MARGINS)
        layout.addWidget(title)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.search)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.splitter, 1)

        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.model.modelReset.connect(self._after_reset)

        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._schedule_rescan)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(RESCAN_DELAY_MS)
        self._debounce.timeout.connect(self.rescan)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._poll_rescan)
        self._poll.start()
        self._unsubscribe = ctx.settings.subscribe(self._on_settings)
        ctx.downloads.completed.connect(self._schedule_rescan)  # a model arrived

        self._after_reset()
        self.rescan()
        from app.ui.pages.publish_dialog import add_publish_action

        add_publish_action(self)  # "Publish…" (app.share): toolbar and row menu

    # scanning ------------------------------------------------------------------------------------------------
    def folders(self) -> list[Path]:
        return library_folders(self.ctx.settings)

    def rescan(self) -> None:
        if self._scan_task is not None:
            self._dirty = True  # one more scan when this one ends: files changed meanwhile
            return
        self._dirty = False
        self.rescan_action.setEnabled(False)
        task = run_task(_scan, self.folders(), name="library scan")
        task.finished.connect(self._on_scanned)
        task.failed.connect(self._on_scan_failed)
        self._scan_task = task

    def _poll_rescan(self) -> None:
        if self.isVisible():
            self.rescan()

    def _schedule_rescan(self, *_args: object) -> None:
        self._debounce.start()

    def _on_scanned(self, result: tuple[list[LibraryEntry], list[Path], float]) -> None:
        entries, visited, seconds = result
        self._scan_task = None
        self.last_scan_seconds = seconds
        selected = self.selected_entry()
        self.model.set_entries(entries)
        if self._wanted is not None and self._select_row(self._wanted):
            self._wanted = None
        elif selected is not None:
            self._select_row(str(selected.path))
        self._watch(visited)
        self.rescan_action.setEnabled(True)
        self._after_reset()
        self.scanned.emit(entries)
        if self._dirty:
            self.rescan()

    def _on_scan_failed(self, error: BaseException) -> None:
        self._scan_task = None
        self.rescan_action.setEnabled(True)
        message_bridge().error(f"Could not scan the library: {error}")

    def _watch(self, folders: list[Path]) -> None:
        wanted = {str(f) for f in folders} | {str(f) for f in self.folders() if f.is_dir()}
        current = set(self.watcher.directories())
        stale = sorted(current - wanted)
        fresh = sorted(wanted - current)
        if stale:
            self.watcher.removePaths(stale)
        if fresh:
            self.watcher.addPaths(fresh)

    def _on_settings(self, old: Preferences, new: Preferences) -> None:
        if (old.models_dir, old.library_folders) != (new.models_dir, new.library_folders):
            self._schedule_rescan()

    # selection and actions -------------------------------------------------------------------------------------
    def selected_entry(self) -> LibraryEntry | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        entry: LibraryEntry = rows[0].data(ENTRY_ROLE)
        return entry

    def select(self, path: str) -> None:
        """Select the model at `path`; one not listed yet is selected when a scan brings it in."""
        self._wanted = None if self._select_row(path) else path

    def _select_row(self, path: str) -> bool:
        row = self.model.row_of(path)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if index.isValid():
            self.table.selectRow(index.row())
            self.table.scrollTo(index)
        return True

    def chat_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None and entry.usable:
            self.ctx.navigate("chat", model=str(entry.path))

    def quantize_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None and entry.usable:
            self.ctx.navigate("quantize", model=str(entry.path))

    def reveal_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            open_folder(entry.folder)

    def delete_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        names = [display_name(f.name) for f in entry.files]
        if entry.quality is not None:
            names.append(f"{sidecar_path(entry.path).name} (its quality score)")
        files = "\n".join(names)
        answer = QMessageBox.question(
            self,
            "Delete model",
            f"Delete {display_name(entry.name)} ({format_bytes(entry.size)}) from disk?\n\n{files}\n\n"
            f"in {display_name(str(entry.folder))}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        from app.core.errors import AppError
        from app.library.manage import delete_entry

        try:
            delete_entry(entry)
        except AppError as exc:
            message_bridge().error(str(exc))
        else:
            message_bridge().info(f"Deleted {display_name(entry.name)}")
        self.rescan()

    # importing -------------------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        accept_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = take_drop(event)
        if paths:
            # After the drop returns: a modal question inside the drop would hold the source application.
            QTimer.singleShot(0, lambda: self.import_dropped(paths))

    def import_dropped(self, paths: list[Path]) -> None:
        """Files or folders dropped on the page or the window: asked how, then imported (headers read first)."""
        self._ask_and_import(paths)

    def _pick_files(self) -> None:
        names, _filter = QFileDialog.getOpenFileNames(self, "Import GGUF files", str(Path.home()), "GGUF (*.gguf)")
        if names:
            self._ask_and_import([Path(n) for n in names])

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of GGUF files", str(Path.home()))
        if folder:
            self._ask_and_import([Path(folder)])

    def _ask_and_import(self, paths: list[Path]) -> None:
        what = paths[0].name if len(paths) == 1 else f"{len(paths)} files"
        mode = ask_import_mode(self, what)
        if mode is not None:
            self.import_paths(paths, mode)

    def import_paths(self, paths: list[Path], mode: ImportMode) -> Task:
        """Import files or folders into `<models>/imported/` off the GUI thread."""
        return self._track(run_task(_import, paths, self.ctx.settings.models_path(), mode, name="import"))

    def _pick_hf_cache(self) -> None:
        task = self._track(run_task(_scan_hf, name="scan HF cache"), announce=False)
        task.finished.connect(self._offer_hf_files)

    def _offer_hf_files(self, files: list[CachedModelFile]) -> None:
        if not files:
            message_bridge().info("No GGUF files in the Hugging Face cache")
            return
        dialog = HfCacheDialog(files, self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.chosen():
            self.import_hf(dialog.chosen(), dialog.chosen_mode())

    def import_hf(self, files: list[CachedModelFile], mode: ImportMode) -> Task:
        return self._track(run_task(_import_hf, files, self.ctx.settings.models_path(), mode, name="import"))

    def _track(self, task: Task, announce: bool = True) -> Task:
        self._other_tasks.add(task)

        def done(result: object) -> None:
            self._other_tasks.discard(task)
            if announce:
                if isinstance(result, ImportResult):
                    show = message_bridge().warning if result.refused else message_bridge().info
                    show(display_name(result.describe()))
                else:
                    count = len(result) if isinstance(result, list) else 0
                    message_bridge().info(f"Imported {count} file(s)" if count else "Nothing new to import")
                self.rescan()
            self.import_finished.emit(result)

        def failed(error: BaseException) -> None:
            self._other_tasks.discard(task)
            message_bridge().error(display_name(str(error)))
            self.import_finished.emit(error)

        task.finished.connect(done)
        task.failed.connect(failed)
        return task

    # view state ------------------------------------------------------------------------------------------------
    def _context_menu(self, pos: QPoint) -> None:
        show_row_menu(self.table, self._row_actions, pos)

    def _update_actions(self, *_args: object) -> None:
        entry = self.selected_entry()
        usable = entry is not None and entry.usable
        self.chat_action.setEnabled(usable)
        self.quantize_action.setEnabled(usable)
        self.reveal_action.setEnabled(entry is not None)
        self.delete_action.setEnabled(entry is not None)
        if entry == self._details_entry:
            return  # a rescan that changed nothing about it: keep what the pane shows
        self._details_entry = entry
        self.details.show_entry(entry)
        if entry is not None and entry.usable:
            task = self._details_task = run_task(_details, entry.path, name="model details")
            # Bound methods, not lambdas: Qt drops the connection when the page goes before the task ends.
            task.finished.connect(self._on_details)
            task.failed.connect(self._on_details_failed)

    def _on_details(self, details: ModelDetails) -> None:
        if self.sender() is self._details_task:  # not an answer for a model selected earlier
            self._details_task = None
            self.details.show_details(details)
            self.details_shown.emit(self._details_entry)

    def _on_details_failed(self, error: BaseException) -> None:
        if self.sender() is self._details_task:
            self._details_task = None
            self.details.show_details_error(str(error))
            self.details_shown.emit(self._details_entry)

    def _after_reset(self) -> None:
        entries = self.model.entries()
        has_rows = bool(entries)
        self.table.setVisible(has_rows)
        self.empty.setVisible(not has_rows)
        self.details.setVisible(has_rows)
        folders = ", ".join(str(f) for f in self.folders())
        if self._scan_task is not None and not has_rows:
            self.empty.setText("Looking for models…")
        else:
            self.empty.setText(
                f"No models yet in {folders}.\nDownload one in Discover, use Import, or drop GGUF files here."
            )
        total = sum(e.size for e in entries)
        broken = sum(1 for e in entries if e.error)
        problems = f" · {broken} unreadable" if broken else ""
        self.subtitle.setText(f"{len(entries)} model(s) · {format_bytes(total)}{problems}")
        self.subtitle.setToolTip(f"Library folders: {folders}")
        self._update_actions()

    def open_with(self, model: str | None = None, dropped: list[Path] | None = None, **_kwargs: Any) -> None:
        if model:
            self.select(model)
        if dropped:
            self.import_dropped(dropped)

    def shutdown(self) -> None:
        self._unsubscribe()
        self._debounce.stop()
        self._poll.stop()
