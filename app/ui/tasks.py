"""Run blocking work off the GUI thread: one function, one Task, exactly one terminal signal.

`run_task(fn, *args)` calls `fn(control, *args)` in the global QThreadPool. The function checks
`control.cancelled` (or calls `control.raise_if_cancelled()`) and reports progress with `control.report`,
throttled to 10 Hz with the last value always delivered. Business logic stays plain Python.

What the work raises decides what the user sees. An `AppError` (`Cancelled` included) is a message: it is
the `failed` signal's value, and the page shows it. Anything else is a bug: it is logged at ERROR with its
traceback and opens the crash dialog, and `failed` still ends the task (so the page can reset), carrying
an `AppError` that only says a bug stopped the work, never the bug's text as if it were a message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from app.core import paths
from app.core.errors import AppError, Cancelled
from app.ui.crash import report_bug

log = logging.getLogger("app.ui.tasks")

PROGRESS_INTERVAL_S = 0.1


class TaskControl:
    def __init__(self, emit_progress: Callable[[object], None]) -> None:
        self.cancelled = threading.Event()
        self._emit = emit_progress
        self._last_emit = 0.0
        self._pending: object = None
        self._has_pending = False
        self._lock = threading.Lock()

    def report(self, value: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_emit < PROGRESS_INTERVAL_S:
                self._pending, self._has_pending = value, True
                return
            self._last_emit = now
            self._has_pending = False
        self._emit(value)

    def flush(self) -> None:
        with self._lock:
            pending, has_pending = self._pending, self._has_pending
            self._has_pending = False
        if has_pending:
            self._emit(pending)

    def raise_if_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()


class Task(QObject):
    """Public signals are always emitted on the GUI thread, after the code that started the task has run,
    so connecting right after `run_task` never misses a result."""

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)  # an AppError (Cancelled when the user cancelled)
    _worker_progress = Signal(object)
    _worker_finished = Signal(object)
    _worker_failed = Signal(object)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.control = TaskControl(self._worker_progress.emit)
        self.done = False
        queued = Qt.ConnectionType.QueuedConnection
        self._worker_progress.connect(self._relay_progress, queued)
        self._worker_finished.connect(self._relay_finished, queued)
        self._worker_failed.connect(self._relay_failed, queued)

    @Slot(object)
    def _relay_progress(self, value: object) -> None:
        if not self.done:
            self.progress.emit(value)

    @Slot(object)
    def _relay_finished(self, result: object) -> None:
        _forget(self)
        self.finished.emit(result)

    @Slot(object)
    def _relay_failed(self, error: object) -> None:
        _forget(self)
        self.failed.emit(error)

    def cancel(self) -> None:
        self.control.cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self.control.cancelled.is_set()


# Tasks are kept alive here until their terminal signal has been delivered on the GUI thread.
_running: set[Task] = set()


class _Runnable(QRunnable):
    def __init__(self, task: Task, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._task, self._fn, self._args = task, fn, args

    def run(self) -> None:
        task = self._task
        result: object = None
        error: BaseException | None = None
        try:
            result = self._fn(task.control, *self._args)
        except BaseException as exc:  # every failure becomes the failed signal, never a dead thread
            error = _as_message(task.name, exc)
        finally:
            task.control.flush()
            if error is None:
                task._worker_finished.emit(result)
            else:
                task._worker_failed.emit(error)


def _as_message(name: str, error: BaseException) -> AppError:
    if isinstance(error, Cancelled):
        log.debug("task %s cancelled", name)
        return error
    if isinstance(error, AppError):
        log.info("task %s failed: %s", name, error)
        return error
    report_bug(error, f"bug in task {name}")
    bug = AppError(
        "This stopped because of a bug in GGUF Studio", hint=f"the details are in the log file: {paths.log_file()}"
    )
    bug.__cause__ = error
    return bug


def _forget(task: Task) -> None:
    task.done = True
    _running.discard(task)


def run_task(fn: Callable[..., Any], *args: Any, name: str = "", pool: QThreadPool | None = None) -> Task:
    task = Task(name or getattr(fn, "__name__", "task"))
    _running.add(task)
    (pool or QThreadPool.globalInstance()).start(_Runnable(task, fn, args))
    return task


def running_tasks() -> int:
    return len(_running)
