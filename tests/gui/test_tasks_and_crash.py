from __future__ import annotations

import sys
import threading
import time

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core import paths
from app.core.errors import HubError
from app.ui import crash
from app.ui.tasks import CancelledError, TaskControl, run_task


def test_finished_carries_the_result(qtbot) -> None:
    task = run_task(lambda control, a, b: a + b, 2, 3)
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        pass
    assert blocker.args == [5]


def test_failure_is_the_one_terminal_signal(qtbot) -> None:
    def fail(control: TaskControl) -> None:
        raise HubError("The Hub is unreachable")

    task = run_task(fail)
    finished: list[object] = []
    task.finished.connect(finished.append)
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        pass
    assert isinstance(blocker.args[0], HubError)
    qtbot.wait(50)
    assert finished == []


def test_cancel_is_seen_by_the_work(qtbot) -> None:
    started = threading.Event()

    def loop(control: TaskControl) -> None:
        started.set()
        while True:
            control.raise_if_cancelled()
            time.sleep(0.005)

    task = run_task(loop)
    assert started.wait(5)
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        task.cancel()
    assert isinstance(blocker.args[0], CancelledError)


def test_progress_is_throttled_and_the_last_value_arrives(qtbot) -> None:
    def count(control: TaskControl) -> int:
        for i in range(1, 2001):
            control.report(i)
            time.sleep(0.0002)
        return 0

    task = run_task(count)
    seen: list[object] = []
    task.progress.connect(seen.append)
    with qtbot.waitSignal(task.finished, timeout=10_000):
        pass
    assert seen[-1] == 2000
    assert len(seen) < 200  # far fewer than 2000 reports reach the GUI thread


def test_uncaught_exception_opens_a_dialog_naming_the_log(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text() + "\n" + box.informativeText()))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    crash.install_crash_handler(app)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert "RuntimeError: boom" in shown[0]
    assert str(paths.log_file()) in shown[0]
