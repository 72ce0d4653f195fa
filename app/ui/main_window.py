"""The main window: sidebar navigation, page stack, message banner and hardware status bar."""

from __future__ import annotations

import base64
import importlib
import logging
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import Settings
from app.hardware import HardwareInfo
from app.ui.context import AppContext
from app.ui.hardware_watch import HardwareWatch
from app.ui.messages import ERROR, message_bridge
from app.ui.pages.broken import BrokenPage
from app.ui.pages.registry import PAGES, PageSpec, page_spec
from app.ui.tasks import Task, run_task
from app.ui.theme import app_icon, apply_theme

log = logging.getLogger("app.ui")

BANNER_MS = {"info": 5000, "warning": 10000, "error": 0}  # errors stay until dismissed


class MessageBanner(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 0)
        self.label = QLabel()
        self.label.setObjectName("MessageBanner")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        self.label.setProperty("level", level)
        self.label.style().unpolish(self.label)
        self.label.style().polish(self.label)
        self.label.setText(text)
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
        self.settings = settings
        self.hardware = hardware or HardwareWatch(self)
        # Every service exists before the first page is built; each starts its heavy part later.
        self.context = AppContext.create(settings, hardware=self.hardware, navigate=self.navigate)
        self._pages: dict[str, QWidget] = {}
        self.broken_pages: dict[str, str] = {}  # page name → the problem, for pages that failed to build
        self._services_task: Task | None = None
        self._closed = False

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("Sidebar")
        self.sidebar.setFixedWidth(190)
        for spec in PAGES:
            item = QListWidgetItem(spec.title)
            item.setData(Qt.ItemDataRole.UserRole, spec.name)
            item.setToolTip(spec.blurb)
            self.sidebar.addItem(item)
        self.stack = QStackedWidget()
        self.banner = MessageBanner()

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
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.stack, 1)

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
        message_bridge().shown.connect(self._show_message)

        self._add_shortcuts()
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
            self.stack.addWidget(widget)
            self.page_opened.emit(name, widget)
        return self._pages[name]

    def _on_row_changed(self, row: int) -> None:
        if row < 0:
            return
        spec = PAGES[row]
        self.stack.setCurrentWidget(self.page(spec.name))
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

    def _show_message(self, level: str, text: str) -> None:
        self.banner.show_message(level, text)
        if level != ERROR:
            self.statusBar().showMessage(text, 5000)

    def _restore_geometry(self) -> None:
        saved = self.settings.values.window_geometry
        if saved and self.restoreGeometry(QByteArray(base64.b64decode(saved))):
            return
        self.resize(1280, 800)

    def closeEvent(self, event: QCloseEvent) -> None:
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
