"""The Library's "Split…" and "Merge" actions: llama.cpp's split format (app.share.split), off the GUI thread,
the results announced and picked up by a rescan."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QWidget

from app.core.errors import AppError
from app.core.names import display_name
from app.core.units import format_bytes
from app.library.entries import LibraryEntry
from app.share.split import SplitPlan, merge_gguf, parse_size, split_gguf
from app.ui.messages import message_bridge
from app.ui.tasks import Task, TaskControl, run_task

DEFAULT_SIZE = "2G"


class _Library(Protocol):
    table: Any
    model: Any
    _row_actions: Any

    def selected_entry(self) -> LibraryEntry | None: ...

    def rescan(self) -> None: ...


def ask_max_size(parent: QWidget | None, entry: LibraryEntry) -> int | None:
    """The largest part the user wants (tests replace this)."""
    text, ok = QInputDialog.getText(
        parent,
        "Split model",
        f"{display_name(entry.path.name)} is {format_bytes(entry.size)}.\n"
        "Largest part (e.g. 2G, 500M, 49.5GB); llama.cpp loads the parts from the first one:",
        text=DEFAULT_SIZE,
    )
    return parse_size(text) if ok and text.strip() else None


def _split(control: TaskControl, path: Path, max_size: int) -> SplitPlan:
    return split_gguf(path, max_size=max_size, progress=lambda d, t: control.report((d, t)), cancel=control.cancelled)


def _merge(control: TaskControl, first: Path) -> Path:
    return merge_gguf(first, progress=lambda d, t: control.report((d, t)), cancel=control.cancelled)


def add_split_actions(page: _Library, toolbar: Any) -> tuple[QAction, QAction]:
    split_action = toolbar.addAction("Split…")
    split_action.setToolTip("Split into parts llama.cpp loads directly (NAME-00001-of-0000N.gguf)")
    merge_action = toolbar.addAction("Merge")
    merge_action.setToolTip("Join the parts of a split model into one file")
    tasks: set[Task] = set()

    def track(task: Task, done: Any) -> None:
        tasks.add(task)

        def finished(result: object) -> None:
            tasks.discard(task)
            message_bridge().info(done(result))
            page.rescan()

        def failed(error: object) -> None:
            tasks.discard(task)
            message_bridge().error(display_name(str(error)))

        task.finished.connect(finished)
        task.failed.connect(failed)
        update()

    def split() -> None:
        entry = page.selected_entry()
        if entry is None or not entry.usable or len(entry.files) != 1:
            return
        try:
            size = ask_max_size(page if isinstance(page, QWidget) else None, entry)
        except AppError as exc:  # a size that does not read: say so
            message_bridge().error(str(exc))
            return
        if size is None:
            return
        task = run_task(_split, entry.path, size, name="split")
        track(task, lambda plan: f"Split {display_name(entry.path.name)} into {len(plan.parts)} parts")

    def merge() -> None:
        entry = page.selected_entry()
        if entry is None or not entry.usable or len(entry.files) < 2:
            return
        task = run_task(_merge, entry.path, name="merge")
        track(task, lambda out: f"Merged {len(entry.files)} parts into {display_name(Path(str(out)).name)}")

    def update() -> None:
        entry = page.selected_entry()
        usable = entry is not None and entry.usable and not tasks
        split_action.setEnabled(usable and entry is not None and len(entry.files) == 1)
        merge_action.setEnabled(usable and entry is not None and len(entry.files) > 1)

    split_action.triggered.connect(split)
    merge_action.triggered.connect(merge)
    page.table.selectionModel().selectionChanged.connect(lambda *_: update())
    page.model.modelReset.connect(update)
    page._row_actions = (*page._row_actions, split_action, merge_action)
    update()
    return split_action, merge_action
