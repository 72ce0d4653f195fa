"""The main window: sidebar navigation, page stack, message banner and hardware status bar.

The banner floats over the top of the page (it never pushes the page down, so a click never lands on what
moved), shows only the message of the page in view, and goes when its cause does (`MessageBridge.dismiss`).
"""

from __future__ import annotations

import base64
import importlib
import logging
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import Settings
from app.downloads.items import ItemState
from app.hardware import HardwareInfo
from app.ui.context import AppContext
from app.ui.hardware_watch import HardwareWatch
from app.ui.messages import ERROR, INFO, Message, message_bridge
from app.ui.pages.broken import BrokenPage
from app.ui.pages.library_drop import WindowDrop
from app.ui.pages.registry import PAGES, PageSpec, page_spec
from app.ui.tasks import Task, run_task
from app.ui.theme import app_icon, apply_theme
from app.ui.widgets.badge import BADGE_ROLE, BadgeDelegate
from app.ui.widgets.page_scroll import PageScroll

log = logging.getLogger("app.ui")

# Small laptop screens (1280x720 with a taskbar) must fit the window; a page wider than what is left scrolls.
MINIMUM_SIZE = (640, 480)

BANNER_MS = {"info": 5000, "warning": 10000, "error": 0}  # errors stay until dismissed
SEVERITY = {"info": 0, "warning": 1, "error": 2}


class MessageBanner(QWidget):
    """One message, floating over the top edge of its parent (placed by `place`, outside any layout)."""

    closed = Signal()  # the user dismissed it, or an info or warning timed out

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 0)
        self.label = QLabel()
        self.label.setObjectName("MessageBanner")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setContentsMargins(10, 7, 10, 7)  # QLabel's height for a width ignores a style sheet's padding
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self._close)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._close)
        self.hide()
        if parent is not None:
            parent.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self.place()
        return False

    def place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        width = parent.width()
        height = self.heightForWidth(width) if self.hasHeightForWidth() else -1
        self.setGeometry(0, 0, width, height if height > 0 else self.sizeHint().height())
        self.raise_()

    def _close(self) -> None:
        self.clear()
        self.closed.emit()

    def clear(self) -> None:
        self._timer.stop()
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        self.label.setProperty("level", level)
        self.label.style().unpolish(self.label)
        self.label.style().polish(self.label)
        self.label.setText(text)
        self.place()
        self.show()
        self._timer.stop()
        if BANNER_MS.get(level):
            self._timer.start(BANNER_MS[level])


class MainWindow(QMainWindow):
    page_opened = Signal(str, object)  # page name, the page widget (emitted once per page, when it is built)
    services_started = Signal()  # the download queue exists (and resumed what an earlier run left)

    def __init__(
        self, settings: Settings, hardware: HardwareWatch | None = None, *, defer_start_page: bool = False
    ) -> None:
        super().__init__()
        self.setWindowTitle("GGUF Studio")
        self.setWindowIcon(app_icon())
        self.setMinimumSize(MINIMUM_SIZE[0], MINIMUM_SIZE[1])
        self.settings = settings
        self.hardware = hardware or HardwareWatch(self)
        # Every service exists before the first page is built; each starts its heavy part later.
        self.context = AppContext.create(settings, hardware=self.hardware, navigate=self.navigate)
        self._pages: dict[str, QWidget] = {}
        self.broken_pages: dict[str, str] = {}  # page name → the problem, for pages that failed to build
        self._services_task: Task | None = None
        self._closed = False
        self._quit_confirmed = False
        self.quit_box: QMessageBox | None = None
        self._messages: dict[str, Message] = {}  # page name → the message shown on it

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("Sidebar")
        self.sidebar.setFixedWidth(190)
        for spec in PAGES:
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.name)
            item.setToolTip(spec.blurb)
            self.sidebar.addItem(item)
        self.sidebar.setItemDelegate(BadgeDelegate(self.sidebar))
        self.stack = QStackedWidget()

        title = QLabel("GGUF Studio")
        title.setObjectName("AppTitle")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(0)
        left_layout.addWidget(title)
        left_layout.addWidget(self.sidebar, 1)
        left.setObjectName("Sidebar")
        left.setFixedWidth(190)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.stack, 1)
        self.banner = MessageBanner(right)
        self.banner.closed.connect(self._banner_closed)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(left)
        layout.addWidget(right, 1)
        self.setCentralWidget(central)

        self.hardware_label = QLabel("Detecting hardware…")
        self.statusBar().addPermanentWidget(self.hardware_label)
        self.hardware.ready.connect(self._show_hardware)
        self.hardware.failed.connect(lambda text: message_bridge().warning(text))
        message_bridge().posted.connect(self._post_message)
        message_bridge().dismissed.connect(self._dismiss_messages)
        self.context.downloads.item_changed.connect(self._update_download_badge)
        self.context.downloads.item_removed.connect(self._update_download_badge)
        self.services_started.connect(self._update_download_badge)

        self._add_shortcuts()
        WindowDrop(self, lambda paths: self.navigate("library", dropped=paths))  # GGUF files dropped anywhere
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._os_theme_changed)
        self.sidebar.currentRowChanged.connect(self._on_row_changed)
        self._restore_geometry()
        start = settings.values.last_page if settings.values.last_page in {p.name for p in PAGES} else "discover"
        if defer_start_page:
            # The window paints first; `open_start_page` builds the page in the next turn of the event loop.
            self.sidebar.blockSignals(True)
            self.sidebar.setCurrentRow(PAGES.index(page_spec(start)))
            self.sidebar.blockSignals(False)
        else:
            self.navigate(start)

    def open_start_page(self) -> None:
        self._on_row_changed(self.sidebar.currentRow())

    def start_services(self) -> None:
        """Start the services' heavy parts after the first paint: the hardware probe and the download queue
        (a queue saved by an earlier run resumes here)."""
        self.hardware.start()
        # Importing the download queue's modules takes ~45 ms (compiling, where bytecode is not cached): a
        # worker does it, the GUI thread only builds the queue.
        self._services_task = run_task(_import_download_queue)
        self._services_task.finished.connect(self._start_download_queue)
        if self.settings.values.server_autostart:
            self.page("server")  # the Server page starts the API server it was asked to start with the app

    def _start_download_queue(self, _result: object) -> None:
        if self._closed:
            return
        self.context.downloads.start()
        self.services_started.emit()

    # navigation -------------------------------------------------------------------------------------------
    def navigate(self, name: str, **kwargs: Any) -> None:
        spec = page_spec(name)
        row = PAGES.index(spec)
        if self.sidebar.currentRow() != row:
            self.sidebar.setCurrentRow(row)  # → _on_row_changed builds and shows the page
        page = self._pages.get(name)
        if kwargs and page is not None and hasattr(page, "open_with"):
            page.open_with(**kwargs)

    def open_every_page(self) -> dict[str, str]:
        """Show every page in turn (building each); the pages that failed to build, name → problem."""
        for spec in PAGES:
            self.navigate(spec.name)
            QApplication.processEvents()
        return dict(self.broken_pages)

    def current_page_name(self) -> str:
        return PAGES[self.sidebar.currentRow()].name

    def page(self, name: str) -> QWidget:
        if name not in self._pages:
            widget = self._build_page(page_spec(name))
            self._pages[name] = widget
            self.stack.addWidget(PageScroll(widget))
            self.page_opened.emit(name, widget)
        return self._pages[name]

    def current_page(self) -> QWidget | None:
        """The page in view (the stack holds each page inside its scroll area)."""
        area = self.stack.currentWidget()
        return area.page() if isinstance(area, PageScroll) else None

    def _scrolled_page(self, index: int) -> QWidget | None:
        area = self.stack.widget(index)
        return area.page() if isinstance(area, PageScroll) else None

    def _on_row_changed(self, row: int) -> None:
        if row < 0:
            return
        spec = PAGES[row]
        left = self.current_page()
        for name, message in list(self._messages.items()):  # news (info) is for the moment it was raised
            if message.level == INFO and self._pages.get(name) is left:
                del self._messages[name]
        page = self.page(spec.name)
        self.stack.setCurrentIndex(next(i for i in range(self.stack.count())
                                        if self._scrolled_page(i) is page))
        self._show_page_message(spec.name)
        if spec.name != self.settings.values.last_page:
            self.settings.update(last_page=spec.name)

    def _build_page(self, spec: PageSpec) -> QWidget:
        try:
            page: QWidget = getattr(importlib.import_module(spec.module), spec.class_name)(self.context)
        except Exception as exc:  # a bug; one broken page must not take the window down
            problem = f"{type(exc).__name__}: {exc}"
            log.error("page %s could not be built: %s", spec.name, problem, exc_info=True)
            self.broken_pages[spec.name] = problem
            return BrokenPage(spec, problem)
        return page

    # chrome -----------------------------------------------------------------------------------------------
    def _add_shortcuts(self) -> None:
        for index, spec in enumerate(PAGES, start=1):
            action = QAction(spec.title, self)
            action.setShortcut(QKeySequence(f"Ctrl+{index}"))
            action.triggered.connect(lambda _checked=False, name=spec.name: self.navigate(name))
            self.addAction(action)
        preferences = QAction("Settings", self)
        preferences.setShortcut(QKeySequence.StandardKey.Preferences)
        preferences.triggered.connect(lambda: self.navigate("settings"))
        self.addAction(preferences)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.addAction(quit_action)

    def _show_hardware(self, info: HardwareInfo) -> None:
        from app.hardware.probe import summary

        self.hardware_label.setText(summary(info))
        self.hardware_label.setToolTip("\n".join(info.notes) if info.notes else summary(info))

    def _os_theme_changed(self, _scheme: Qt.ColorScheme) -> None:
        app = QApplication.instance()
        if self.settings.values.theme == "system" and isinstance(app, QApplication):
            apply_theme(app, "system")

    def _post_message(self, message: Message) -> None:
        current = self.current_page_name() if self.sidebar.currentRow() >= 0 else ""
        page = message.page or current
        waiting = self._messages.get(page)
        if waiting is not None and SEVERITY[waiting.level] > SEVERITY[message.level]:
            self.statusBar().showMessage(message.text, 5000)  # news never hides a problem still standing
            return
        self._messages[page] = message
        if page == current:
            self._show_page_message(page)
            if message.level == ERROR:
                self.statusBar().clearMessage()  # an earlier "Queued …" must not stand beside the failure
            else:
                self.statusBar().showMessage(message.text, 5000)
        else:  # raised for another page: a pointer here, the message itself there
            title = page_spec(page).title
            self.statusBar().showMessage(f"{message.text} — see {title}", 10000)

    def _show_page_message(self, page: str) -> None:
        message = self._messages.get(page)
        if message is None:
            self.banner.clear()
        else:
            self.banner.show_message(message.level, message.text)

    def _banner_closed(self) -> None:
        self._messages.pop(self.current_page_name(), None)

    def _dismiss_messages(self, key: str) -> None:
        for page, message in list(self._messages.items()):
            if message.key == key:
                del self._messages[page]
        self._show_page_message(self.current_page_name())

    def page_message(self, page: str) -> Message | None:
        """The message waiting on a page (shown while the page is in view)."""
        return self._messages.get(page)

    # downloads ----------------------------------------------------------------------------------------------
    def active_downloads(self) -> int:
        """Downloads queued or transferring (0 while the queue has not started)."""
        downloads = self.context.downloads
        if not downloads.started:
            return 0
        return sum(1 for i in downloads.items() if i.state in (ItemState.QUEUED, ItemState.RUNNING))

    def download_badge(self) -> int:
        """The count on the sidebar's Downloads entry."""
        return int(self.sidebar.item(PAGES.index(page_spec("downloads"))).data(BADGE_ROLE) or 0)

    def _update_download_badge(self, *_args: object) -> None:
        row = PAGES.index(page_spec("downloads"))
        item = self.sidebar.item(row)
        n = self.active_downloads()
        item.setData(BADGE_ROLE, n)
        item.setToolTip(f"{n} download{'s' if n != 1 else ''} in progress" if n else PAGES[row].blurb)

    def _ask_before_quitting(self) -> None:
        n = self.active_downloads()
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Quit GGUF Studio?")
        box.setText(f"{n} download{'s are' if n != 1 else ' is'} still running.")
        box.setInformativeText("Quit now and they continue where they stopped the next time GGUF Studio starts.")
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(quit_button)
        box.finished.connect(lambda _r: self._quit_answered(box.clickedButton() is quit_button))
        self.quit_box = box
        box.open()

    def close_now(self) -> None:
        """Close without the question about running downloads (commands that render or test the window)."""
        self._quit_confirmed = True
        self.close()

    def _quit_answered(self, quit_now: bool) -> None:
        self.quit_box = None
        if quit_now:
            self._quit_confirmed = True
            self.close()

    def _restore_geometry(self) -> None:
        saved = self.settings.values.window_geometry
        if saved and self.restoreGeometry(QByteArray(base64.b64decode(saved))):
            return
        self.resize(1280, 800)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._quit_confirmed and not self._closed and self.active_downloads():
            event.ignore()  # asked without blocking; the answer closes the window or leaves it
            if self.quit_box is None:
                self._ask_before_quitting()
            return
        self._closed = True
        geometry = base64.b64encode(bytes(self.saveGeometry().data())).decode("ascii")
        self.settings.update(window_geometry=geometry)
        for page in self._pages.values():
            shutdown = getattr(page, "shutdown", None)
            if callable(shutdown):
                shutdown()  # pages stop their child processes and threads
        self.context.shutdown()
        super().closeEvent(event)


def _import_download_queue(_control: object) -> None:
    import app.ui.models.download_service  # noqa: F401

