"""Connect a Task's result to a widget so that a result arriving after the widget is gone is dropped.

A plain lambda connected to `task.finished` would still run (and touch deleted C++ objects) after its
widget was deleted, e.g. when a test or the user closes a page while a Hub call is in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject

from app.ui.tasks import Task


def _guarded(owner: QObject, fn: Callable[[Any], None]) -> Callable[[Any], None]:
    def call(value: Any) -> None:
        if shiboken6.isValid(owner):
            fn(value)

    return call


def connect_task(owner: QObject, task: Task, on_done: Callable[[Any], None], on_fail: Callable[[Any], None]) -> None:
    task.finished.connect(_guarded(owner, on_done))
    task.failed.connect(_guarded(owner, on_fail))
