"""The engine seen from the GUI thread: the client's events become a queued Qt signal.

A model reference `remote://NAME/MODEL` (app.remote.session) is served by a remote endpoint instead of the
local engine process: the same events, made on a thread from its stream."""

from __future__ import annotations

import itertools
import threading
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
        self._remote: Any = None  # app.remote.session.RemoteChat while a remote model is chosen
        self._pending = ""  # the remote model being opened; a later load makes its result stale
        self._remote_ids = itertools.count(1)
        self._workers: tuple[str, ...] = ()  # the RPC workers the engine process was told about

    @property
    def running(self) -> bool:
        return self._remote is not None or (self._client is not None and self._client.alive)

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
        from app.remote.refs import parse_remote_ref

        self._close_remote()
        self._pending = path
        if parse_remote_ref(path) is not None:
            threading.Thread(target=self._open_remote, args=(path,), name="remote-open", daemon=True).start()
            return
        if settings.rpc_workers != self._workers and self._client is not None:
            # ggml cannot forget a worker it was told about, and one that went away aborts the process:
            # another list of workers gets a new engine process.
            self._client.close(timeout=1.0)
            self._client = None
        self._workers = settings.rpc_workers
        self._ensure().send(p.Load(path, settings))

    def generate(self, messages: Sequence[p.ChatMessage], **kwargs: Any) -> int:
        remote = self._remote
        if remote is not None:
            request_id = next(self._remote_ids)
            threading.Thread(target=self._stream_remote, args=(remote, list(messages), request_id, kwargs),
                             name="remote-stream", daemon=True).start()
            return request_id
        return self._ensure().submit(messages, **kwargs)

    def stop(self) -> None:
        if self._remote is not None:
            self._remote.stop()
        elif self.running and self._client is not None:
            self._client.stop()

    # ------------------------------------------------------------------ remote endpoints (threads)

    def _open_remote(self, ref: str) -> None:
        from app.core.errors import AppError
        from app.remote.session import open_remote

        try:
            chat, info = open_remote(ref)
        except AppError as exc:
            self.received.emit(p.Error(exc))
            return
        if self._pending != ref:
            chat.close()  # another model was chosen meanwhile
            return
        self._remote = chat
        self.received.emit(p.Loaded(info))

    def _stream_remote(self, remote: Any, messages: list[p.ChatMessage], request_id: int,
                       kwargs: dict[str, Any]) -> None:
        from app.core.errors import AppError

        try:
            for event in remote.stream(messages, sampling=kwargs.get("sampling"), request_id=request_id):
                self.received.emit(event)
        except AppError as exc:  # a dropped stream carries its partial text; the page keeps what it showed
            self.received.emit(p.Error(exc, request_id))

    def _close_remote(self) -> None:
        remote, self._remote = self._remote, None
        if remote is not None:
            remote.close()

    def unload(self) -> None:
        self._close_remote()
        if self._client is not None and self._client.alive:
            self._client.send(p.Unload())

    def close(self) -> None:
        self._close_remote()
        if self._client is not None:
            self._client.close()
            self._client = None
