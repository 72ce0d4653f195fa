"""An uncaught exception opens a dialog that names the log file; the app keeps running when it can."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core import paths

log = logging.getLogger("app.crash")


class _CrashRelay(QObject):
    """Carries a crash report from any thread to the GUI thread."""

    crashed = Signal(str)

    @Slot(str)
    def show_dialog(self, summary: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, "GGUF Studio hit a bug", summary)
        box.setInformativeText(
            f"The details are in the log file:\n{paths.log_file()}\n\n"
            "Your models, downloads and chats are safe. Please include the log when reporting this."
        )
        box.exec()


_relay: _CrashRelay | None = None


def report_bug(error: BaseException, where: str, *, level: int = logging.ERROR) -> None:
    """Log a bug with its traceback and open the crash dialog (from any thread; on the GUI thread's next turn).
    Without `install_crash_handler` (tests, the self-test) it is only logged."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    log.log(level, "%s:\n%s", where, trace)
    if _relay is not None:
        _relay.crashed.emit(f"{type(error).__name__}: {error}")


def install_crash_handler(app: QApplication) -> None:
    global _relay
    _relay = _CrashRelay(app)
    _relay.crashed.connect(_relay.show_dialog)

    def excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            app.quit()
            return
        report_bug(value.with_traceback(tb), "uncaught exception", level=logging.CRITICAL)

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        excepthook(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
