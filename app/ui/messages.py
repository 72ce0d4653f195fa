"""The one way messages reach the user: domain code raises, workers emit, the bridge shows.

A message belongs to a page (the one that raised it, or the one in view when it was raised) and is shown only
there; one raised with a `key` naming its cause is taken back with `dismiss(key)` when the cause is gone (a
failed download retried or removed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("app.ui")

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True, slots=True)
class Message:
    level: str  # ERROR, WARNING or INFO
    text: str
    page: str | None = None  # the page it belongs to; None: the page in view when it is raised
    key: str | None = None  # names its cause, for `dismiss`


class MessageBridge(QObject):
    shown = Signal(str, str)  # level, text
    posted = Signal(object)  # Message
    dismissed = Signal(str)  # a key: the cause of the messages raised with it is gone

    def error(self, text: str, *, page: str | None = None, key: str | None = None) -> None:
        log.error("%s", text)
        self._post(Message(ERROR, text, page, key))

    def warning(self, text: str, *, page: str | None = None, key: str | None = None) -> None:
        log.warning("%s", text)
        self._post(Message(WARNING, text, page, key))

    def info(self, text: str, *, page: str | None = None, key: str | None = None) -> None:
        log.info("%s", text)
        self._post(Message(INFO, text, page, key))

    def dismiss(self, key: str) -> None:
        self.dismissed.emit(key)

    def _post(self, message: Message) -> None:
        self.shown.emit(message.level, message.text)
        self.posted.emit(message)


_bridge: MessageBridge | None = None


def message_bridge() -> MessageBridge:
    global _bridge
    if _bridge is None:
        _bridge = MessageBridge()
    return _bridge
