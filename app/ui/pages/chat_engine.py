"""The engine process seen from the GUI thread: the client's events become a queued Qt signal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.chat import protocol as p
from app.chat.client import EngineClient


class EngineBridge(QObject):
    """Owns one engine process. `received` carries every protocol event, in order, on the GUI thread."""

    received = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client: EngineClient | None = None

    @property
    def running(self) -> bool:
        return self._client is not None and self._client.alive

    @property
    def pid(self) -> int | None:
        return self._client.pid if self._client is not None else None

    def _ensure(self) -> EngineClient:
        if self._client is None or not self._client.alive:
            if self._client is not None:
                self._client.close(timeout=0.5)
            # Emitted from the client's reader thread: Qt queues it to this object's (GUI) thread.
            self._client = EngineClient(on_event=self.received.emit)
            self._client.start()
        return self._client

    def load(self, path: str, settings: p.EngineSettings) -> None:
        self._ensure().send(p.Load(path, settings))

    def generate(self, messages: Sequence[p.ChatMessage], **kwargs: Any) -> int:
        return self._ensure().submit(messages, **kwargs)

    def stop(self) -> None:
        if self.running and self._client is not None:
            self._client.stop()

    def unload(self) -> None:
        if self.running and self._client is not None:
            self._client.send(p.Unload())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
