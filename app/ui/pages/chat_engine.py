"""The engine seen from the GUI thread: the client's events become a queued Qt signal.

A model reference `remote://NAME/MODEL` (app.remote.session) is served by a remote endpoint instead of the
local engine process: the same events, made on a thread from its stream. While the app's API server runs, a
model of its library is served by the server's engine (app.server.shared_chat): one copy in memory, each
reply on its own sequence beside the API's requests; a model the server cannot have gets the chat's own
engine process."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.chat import protocol as p
from app.chat.client import EngineClient
from app.ui.local_server import LocalServer


class EngineBridge(QObject):
    """Owns one engine process. `received` carries every protocol event, in order, on the GUI thread."""

    received = Signal(object)
    _shared_opened = Signal(object, object, object)  # (server, load request, open_shared's result), queued
    _shared_failed = Signal(object, object)  # (load request, AppError), queued

    def __init__(self, parent: QObject | None = None, local_server: LocalServer | None = None) -> None:
        super().__init__(parent)
        self._client: EngineClient | None = None
        self._remote: Any = None  # app.remote.session.RemoteChat while a remote model is chosen
        self._shared: Any = None  # app.server.shared_chat.SharedChat while the server's engine serves the chat
        self._local = local_server
        self._silenced: set[Any] = set()  # shared chats whose server stopped: the page was told already
        self._opening = ""  # the model the local server is loading for the chat
        self._handover: tuple[EngineClient | None, Any] | None = None  # (own engine, memory it frees): hand_over_own
        if local_server is not None:
            local_server.stopping.connect(self._server_stopping)
        self._shared_opened.connect(self._on_shared_opened)
        self._shared_failed.connect(self._on_shared_failed)
        self._pending = ""  # the remote model being opened; a later load makes its result stale
        self._remote_ids = itertools.count(1)
        self._workers: tuple[str, ...] = ()  # the RPC workers the engine process was told about

    @property
    def running(self) -> bool:
        return (self._remote is not None or self._shared is not None
                or (self._client is not None and self._client.alive))

    @property
    def shared(self) -> bool:
        """The chat runs on a sequence of the local API server's engine."""
        return self._shared is not None

    @property
    def pid(self) -> int | None:
        if self._shared is not None:
            pid: int | None = self._shared.pid
            return pid
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
        self._close_shared()
        self._pending = path
        handover, self._handover = self._handover, None
        if parse_remote_ref(path) is not None:
            threading.Thread(target=self._open_remote, args=(path,), name="remote-open", daemon=True).start()
            return
        server = self._local.server if self._local is not None else None
        if server is not None and server.loop is not None and not settings.rpc_workers:
            self._opening = path
            if handover is not None and handover[0] is self._client:
                self._client = None  # it ends on the opening thread, before the server counts its memory free
            else:
                handover = None
            threading.Thread(target=self._open_shared, args=(server, path, settings, handover),
                             name="shared-open", daemon=True).start()
            return
        self._load_own(path, settings)

    def _load_own(self, path: str, settings: p.EngineSettings) -> None:
        """The model in the chat's own engine process."""
        if settings.rpc_workers != self._workers and self._client is not None:
            # ggml cannot forget a worker it was told about, and one that went away aborts the process:
            # another list of workers gets a new engine process.
            self._client.close(timeout=1.0)
            self._client = None
        self._workers = settings.rpc_workers
        self._ensure().send(p.Load(path, settings))

    def generate(self, messages: Sequence[p.ChatMessage], **kwargs: Any) -> int:
        shared = self._shared
        if shared is not None:
            request_id = next(self._remote_ids)
            threading.Thread(target=self._stream_shared, args=(shared, list(messages), request_id, kwargs),
                             name="shared-stream", daemon=True).start()
            return request_id
        remote = self._remote
        if remote is not None:
            request_id = next(self._remote_ids)
            threading.Thread(target=self._stream_remote, args=(remote, list(messages), request_id, kwargs),
                             name="remote-stream", daemon=True).start()
            return request_id
        return self._ensure().submit(messages, **kwargs)

    def stop(self) -> None:
        if self._opening and self._opening == self._pending:  # Cancel while the server loads it for the chat
            from app.core.errors import Cancelled

            self._pending = self._opening = ""  # its result is dropped; the server keeps what it loaded
            self.received.emit(p.Error(Cancelled("Loading cancelled")))
        elif self._shared is not None:
            self._shared.stop()  # the chat's sequence only: the API's requests go on
        elif self._remote is not None:
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
        self._close_shared()  # the server keeps the model until its idle time runs out
        if self._client is not None and self._client.alive:
            self._client.send(p.Unload())

    def close_own(self) -> None:
        """Ends the chat's own engine process and frees its memory (the next own load starts another)."""
        client, self._client = self._client, None
        if client is not None:  # off the GUI thread: the process may take a moment to free a large model
            threading.Thread(target=client.close, kwargs={"timeout": 3.0}, name="own-engine-close",
                             daemon=True).start()

    def hand_over_own(self, freed: Any) -> None:
        """The next load, when it goes to the local server's engine, first ends the chat's own engine process
        and then gives the server the memory that frees (`freed`: app.server.shared_chat.MoveAnswer.freed):
        one copy of the model in memory, and the server's budget counts it once."""
        self._handover = (self._client, freed)

    @property
    def own_model(self) -> bool:
        """The chat's own engine process runs (a local model, neither remote nor the server's)."""
        return (self._remote is None and self._shared is None and not self._opening
                and self._client is not None and self._client.alive)

    def close(self) -> None:
        self._close_remote()
        self._close_shared()
        if self._client is not None:
            self._client.close()
            self._client = None

    # ------------------------------------------------------------------ the local server's engine (threads)

    def _open_shared(self, server: Any, path: str, settings: p.EngineSettings,
                     handover: tuple[EngineClient | None, Any] | None) -> None:
        from app.core.errors import AppError
        from app.server.scheduler import NO_MEMORY
        from app.server.shared_chat import open_shared

        freed = NO_MEMORY
        if handover is not None:
            own, freed = handover
            if own is not None:
                own.close(timeout=3.0)  # its memory is free before the server counts it and loads the model
        try:
            result = open_shared(server.state, server.loop, path, freed)
        except AppError as exc:
            self._shared_failed.emit((path, settings), exc)
            return
        self._shared_opened.emit(server, (path, settings), result)

    def _on_shared_opened(self, server: Any, request: tuple[str, p.EngineSettings], result: Any) -> None:
        path, settings = request
        if self._opening == path:
            self._opening = ""
        chat = result[0] if result is not None else None
        if self._pending != path:  # another model was chosen meanwhile
            if chat is not None:
                chat.close()
            return
        if chat is None or self._local is None or self._local.server is not server:
            if chat is not None:  # the server stopped while it loaded the model
                chat.close()
            self._load_own(path, settings)  # not in the server's library, or refused by its memory budget
            return
        self.close_own()  # one copy of a model in memory, one engine process: the chat's own engine goes
        self._shared = chat
        self.received.emit(p.Loaded(result[1]))

    def _on_shared_failed(self, request: tuple[str, p.EngineSettings], error: Any) -> None:
        if self._opening == request[0]:
            self._opening = ""
        if self._pending == request[0]:
            self.received.emit(p.Error(error))

    def _stream_shared(self, chat: Any, messages: list[p.ChatMessage], request_id: int,
                       kwargs: dict[str, Any]) -> None:
        from app.core.errors import AppError

        try:
            for event in chat.stream(messages, request_id=request_id, **kwargs):
                if chat in self._silenced:
                    return
                self.received.emit(event)
        except AppError as exc:
            if chat not in self._silenced:
                self.received.emit(p.Error(exc, request_id))

    def _server_stopping(self) -> None:
        chat, self._shared = self._shared, None
        if chat is None:
            return
        self._silenced.add(chat)
        chat.close()  # stops the chat's reply; the engine goes with the server
        from app.server.shared_chat import STOPPED, STOPPED_HINT

        self.received.emit(p.Crashed(STOPPED, None, STOPPED_HINT))

    def _close_shared(self) -> None:
        chat, self._shared = self._shared, None
        if chat is not None:
            chat.close()
