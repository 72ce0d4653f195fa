"""The one way messages reach the user: domain code raises, workers emit, the bridge shows."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("app.ui")

ERROR, WARNING, INFO = "error", "warning", "info"


class MessageBridge(QObject):
    shown = Signal(str, str)  # level, text

    def error(self, text: str) -> None:
        log.error("%s", text)
        self.shown.emit(ERROR, text)

    def warning(self, text: str) -> None:
        log.warning("%s", text)
        self.shown.emit(WARNING, text)

    def info(self, text: str) -> None:
        log.info("%s", text)
        self.shown.emit(INFO, text)


_bridge: MessageBridge | None = None


def message_bridge() -> MessageBridge:
    global _bridge
    if _bridge is None:
        _bridge = MessageBridge()
    return _bridge
