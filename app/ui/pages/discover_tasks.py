"""Discover's task helpers.

`connect_task` connects a Task's result to a widget so that a result arriving after the widget is gone is
dropped: a plain lambda connected to `task.finished` would still run (and touch deleted C++ objects) after its
widget was deleted, e.g. when a test or the user closes a page while a Hub call is in flight.

`warm_up` prepares, in a worker, what Discover needs after its first search: a repository's detail and
remote header (huggingface_hub's download helpers, the GGUF reader, numpy) and the download queue that a
Download click creates. Done on first use instead, the imports cost the GUI thread 40-70 ms of compiling and
class building (the download queue, imported on the GUI thread) or compete with it for the GIL and the CPUs
while the first results and the first detail are painted (the rest, imported by the detail and header tasks).
It starts once the page has painted, beside the first search, but first waits (on import and client locks)
until that search's own set-up is done: huggingface_hub's import and the HTTP client's TLS set-up. So the two
never burn CPU side by side; what is left runs while the search waits for the Hub.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject

from app.ui.tasks import Task, TaskControl

WARM_MODULES = (
    "app.hub.detail",
    "app.hub.remote",
    "numpy",  # the GGUF reader decodes a header's arrays with it
    "app.downloads.items",
    "app.downloads.job",
    "app.downloads.manager",
    "app.downloads.store",
)


def warm_up(control: TaskControl, modules: tuple[str, ...] = WARM_MODULES) -> None:
    importlib.import_module("app.hub.search")  # waits while the search task imports it
    from app.hub.client import prepare_session

    prepare_session()  # waits while the search task creates the client (or creates it, and the search waits)
    for name in modules:
        control.raise_if_cancelled()
        importlib.import_module(name)


def _guarded(owner: QObject, fn: Callable[[Any], None]) -> Callable[[Any], None]:
    def call(value: Any) -> None:
        if shiboken6.isValid(owner):
            fn(value)

    return call


def connect_task(owner: QObject, task: Task, on_done: Callable[[Any], None], on_fail: Callable[[Any], None]) -> None:
    task.finished.connect(_guarded(owner, on_done))
    task.failed.connect(_guarded(owner, on_fail))
