"""Start the GUI: QApplication, theme, crash handler, main window; the hardware probe after first paint."""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QMessageLogContext, QtMsgType, QTimer, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

import app
from app.core.settings import Settings
from app.ui.crash import install_crash_handler
from app.ui.main_window import MainWindow
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
    qt_log.log(_QT_LEVELS.get(kind, logging.WARNING), "%s", text)


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


def create_main_window(settings: Settings | None = None) -> MainWindow:
    settings = settings or Settings()
    qt_app = create_application()
    apply_theme(qt_app, settings.values.theme)
    return MainWindow(settings)


def run_gui() -> int:
    qt_app = create_application()
    install_crash_handler(qt_app)
    window = create_main_window()
    window.show()
    # Probing loads llama.cpp and NVML: start it once the first frame is on screen, off the GUI thread.
    QTimer.singleShot(0, window.hardware.start)
    log.info("GGUF Studio %s started", app.__version__)
    return qt_app.exec()
