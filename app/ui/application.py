"""Start the GUI: QApplication, theme, crash handler, main window; the hardware probe after first paint."""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

import app
from app.core.settings import Settings
from app.ui.crash import install_crash_handler
from app.ui.first_paint import AfterFirstPaint
from app.ui.main_window import MainWindow
from app.ui.single_instance import SingleInstance, already_running_message
from app.ui.theme import app_icon, apply_theme

log = logging.getLogger("app.ui")
qt_log = logging.getLogger("app.qt")

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _qt_message(kind: QtMsgType, _context: QMessageLogContext, text: str) -> None:
    level = _QT_LEVELS.get(kind, logging.WARNING)
    qt_log.log(level, "%s", text)
    if "no Qt platform plugin could be initialized" in text:
        from app.ui.qt_diagnose import platform_failure_hint

        # Qt aborts right after this message, so this is the one chance to say why.
        print(f"error: Qt cannot open a window ({platform_failure_hint()})", file=sys.stderr)
    elif level >= logging.ERROR:
        print(f"error: Qt: {text}", file=sys.stderr)


def create_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    qInstallMessageHandler(_qt_message)  # Qt's own chatter goes to the log file, not the terminal
    qt_app = QApplication(argv if argv is not None else sys.argv[:1])
    qt_app.setApplicationName("GGUF Studio")
    qt_app.setOrganizationName("gguf-studio")
    qt_app.setApplicationVersion(app.__version__)
    qt_app.setDesktopFileName("gguf-studio")
    qt_app.setWindowIcon(app_icon())
    return qt_app


def create_main_window(settings: Settings | None = None, *, defer_start_page: bool = False) -> MainWindow:
    settings = settings or Settings()
    qt_app = create_application()
    apply_theme(qt_app, settings.values.theme)
    return MainWindow(settings, defer_start_page=defer_start_page)


def launch() -> MainWindow:
    """Create and show the main window. The window paints first; then the start page is built and probing
    (llama.cpp, NVML) and the download queue start, so none of them delays the first frame."""
    qt_app = create_application()
    install_crash_handler(qt_app)
    window = create_main_window(defer_start_page=True)

    def after_first_paint() -> None:
        window.open_start_page()
        window.start_services()

    AfterFirstPaint(window, after_first_paint)
    window.show()
    log.info("GGUF Studio %s started", app.__version__)
    return window


def _bring_forward(window: MainWindow) -> None:
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()


def run_gui() -> int:
    """The GUI, once per home: a second start brings the running window forward (or explains) and exits."""
    qt_app = create_application()
    instance = SingleInstance(qt_app)
    if not instance.claim():
        forwarded = instance.ask_first_to_come_forward()
        print(already_running_message(instance, forwarded), file=sys.stderr)
        return 0 if forwarded else 1
    window = launch()
    instance.activated.connect(lambda: _bring_forward(window))
    code: int = qt_app.exec()
    instance.release()
    log.info("GGUF Studio closed (%s)", window.current_page_name())
    return code
