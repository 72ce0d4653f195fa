"""The app's API server as every page sees it: the Server page starts and stops it, the Chat page shares its
engines (app.server.shared_chat) while it serves."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal


class LocalServer(QObject):
    changed = Signal(bool)  # serving or not, after every start and stop
    stopping = Signal()  # on the GUI thread, before the server (and its engines) stop

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.server: Any = None  # app.server.runner.ServerThread while it serves

    def started(self, server: Any) -> None:
        self.server = server
        self.changed.emit(True)

    def stop_announced(self) -> None:
        """The server is about to stop: whoever uses its engines lets go first."""
        if self.server is None:
            return
        self.server = None
        self.stopping.emit()
        self.changed.emit(False)
