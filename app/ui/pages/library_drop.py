"""Files and folders dropped on the window or the Library page: local paths, handed to the Library's import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, QTimer
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QWidget


def dropped_paths(mime: QMimeData | None) -> list[Path]:
    """Local files and folders carried by a drag (URLs of other schemes are not ours to import)."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def model_paths(mime: QMimeData | None) -> list[Path]:
    """The dropped paths when one of them may hold models (a folder or a .gguf file); none otherwise. Other
    files (an image for Chat) are left to the widget they were dropped on."""
    paths = dropped_paths(mime)
    return paths if any(p.is_dir() or p.name.lower().endswith(".gguf") for p in paths) else []


def accept_drag(event: QDragEnterEvent | QDragMoveEvent, only_models: bool = False) -> None:
    mime = event.mimeData()
    if model_paths(mime) if only_models else dropped_paths(mime):
        event.acceptProposedAction()
    else:
        event.ignore()


def take_drop(event: QDropEvent, only_models: bool = False) -> list[Path]:
    mime = event.mimeData()
    paths = model_paths(mime) if only_models else dropped_paths(mime)
    if paths:
        event.acceptProposedAction()
    else:
        event.ignore()
    return paths


class WindowDrop(QObject):
    """An event filter that lets a whole window take dropped models (a drop outside the Library page
    reaches the window when the widget under the cursor does not take it). Only drags that carry a .gguf file
    or a folder are taken; the Library page itself takes any file and explains what it cannot import."""

    def __init__(self, window: QWidget, on_drop: Callable[[list[Path]], None]) -> None:
        super().__init__(window)
        self._on_drop = on_drop
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QDragEnterEvent | QDragMoveEvent):
            accept_drag(event, only_models=True)
            return True
        if isinstance(event, QDropEvent):
            paths = take_drop(event, only_models=True)
            if paths:
                # After the drop returns: a question asked inside it would hold the application dragging.
                QTimer.singleShot(0, lambda: self._on_drop(paths))
            return True
        return False
