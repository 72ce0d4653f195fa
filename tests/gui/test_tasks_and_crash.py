from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core import paths
from app.core.errors import AppError, Cancelled, HubError
from app.ui import crash
from app.ui.tasks import TaskControl, run_task


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


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The crash handler installed as the app installs it; the texts of the dialogs it would open."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text() + "\n" + box.informativeText()))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    monkeypatch.setattr(crash, "_relay", None)  # put back (uninstalled) after the test
    crash.install_crash_handler(app)
    yield shown


def test_an_app_error_in_a_task_is_a_message_not_a_crash(qtbot, dialogs: list[str], caplog) -> None:
    def fail(control: TaskControl) -> None:
        raise HubError("The Hub is unreachable", hint="check the network")

    task = run_task(fail)
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        pass
    assert isinstance(blocker.args[0], HubError) and blocker.args[0].hint == "check the network"
    qtbot.wait(50)
    assert dialogs == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_bug_in_a_task_opens_the_crash_dialog_and_is_logged_at_error(qtbot, dialogs: list[str], caplog) -> None:
    def buggy(control: TaskControl) -> None:
        return {}["missing"]  # type: ignore[no-any-return]

    task = run_task(buggy, name="buggy work")
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        pass
    error = blocker.args[0]
    assert type(error) is AppError and isinstance(error.__cause__, KeyError)  # the page resets, shows no bug text
    assert "missing" not in str(error) and str(paths.log_file()) in str(error)
    qtbot.waitUntil(lambda: bool(dialogs), timeout=5000)
    assert "KeyError: 'missing'" in dialogs[0] and str(paths.log_file()) in dialogs[0]
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR and "buggy work" in r.getMessage()]
    assert "Traceback" in record.getMessage() and "KeyError" in record.getMessage()


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
    assert isinstance(blocker.args[0], Cancelled)


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


def test_uncaught_exception_opens_a_dialog_naming_the_log(qtbot, dialogs: list[str]) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
    qtbot.waitUntil(lambda: bool(dialogs), timeout=5000)
    assert "RuntimeError: boom" in dialogs[0]
    assert str(paths.log_file()) in dialogs[0]
