"""An engine client that several threads use at once (no Qt): each request's events reach only its caller.

`EngineClient`'s blocking helpers read one queue and drop what belongs to other requests, which is right
for one request at a time. With an engine of several sequences (`EngineSettings.n_parallel > 1`) the
server streams many requests through one engine: here every event that names a request goes to that
request's own queue, the rest (ready, load progress, loaded, unloaded) to a control queue, and a crash
to every waiting caller. Stop names its request, so it ends that one only.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence

from app.chat import protocol as p
from app.chat.client import EngineClient, unexpected_event, wait_for_load
from app.core.errors import EngineError

_Routed = p.Token | p.Done | p.Embedded | p.Error


class SharedEngineClient:
    def __init__(self, nice: int = 0) -> None:
        self._client = EngineClient(on_event=self._route, nice=nice)
        self._control: queue.Queue[p.Event] = queue.Queue()
        self._streams: dict[int, queue.Queue[p.Event]] = {}
        self._lock = threading.Lock()
        self._control_lock = threading.Lock()  # one load or unload at a time reads the control queue
        self.on_crash: Callable[[p.Crashed], None] | None = None  # on the reader thread, after the streams

    # ------------------------------------------------------------------ process

    def start(self, timeout: float = 120.0) -> None:
        self._client.start()
        event = self._control_next(timeout)
        if not isinstance(event, p.Ready):
            raise unexpected_event(event)

    @property
    def pid(self) -> int | None:
        return self._client.pid

    @property
    def alive(self) -> bool:
        return self._client.alive

    @property
    def open_requests(self) -> int:
        """Requests whose caller still waits for events (0 when every stream has ended)."""
        with self._lock:
            return len(self._streams)

    def close(self, timeout: float = 3.0) -> None:
        self._client.close(timeout)
        # An engine that had to be terminated sends no Done and, asked to end, no Crashed either: a request
        # still waiting for its events would wait for good.
        self._end_streams(p.Crashed("The chat engine was stopped before it finished the request", None,
                                    "send it again"))

    def _route(self, event: p.Event) -> None:
        request_id = getattr(event, "request_id", None)
        if isinstance(event, p.Crashed):
            self._end_streams(event)
            self._control.put(event)
            if self.on_crash is not None:
                self.on_crash(event)
            return
        if request_id is not None and isinstance(event, (p.Token, p.Done, p.Embedded, p.Error)):
            with self._lock:
                stream = self._streams.get(request_id)
            if stream is not None:
                stream.put(event)
            return  # a request whose caller has gone: nobody reads it
        self._control.put(event)

    def _end_streams(self, crashed: p.Crashed) -> None:
        with self._lock:
            targets = list(self._streams.values())
        for target in targets:
            target.put(crashed)

    def _control_next(self, timeout: float | None) -> p.Event:
        try:
            return self._control.get(timeout=timeout)
        except queue.Empty:
            raise EngineError("The chat engine did not answer in time") from None

    # ------------------------------------------------------------------ model

    def load(
        self,
        path: str,
        settings: p.EngineSettings | None = None,
        on_progress: Callable[[float], None] | None = None,
        timeout: float | None = None,
    ) -> p.ModelInfo:
        with self._control_lock:
            self._client.send(p.Load(str(path), settings or p.EngineSettings()))
            return wait_for_load(self._control_next, unexpected_event, on_progress, timeout)

    # ------------------------------------------------------------------ requests

    def new_request_id(self) -> int:
        return self._client.new_request_id()

    def stop(self, request_id: int | None = None) -> None:
        self._client.send(p.Stop(request_id))

    def stream_request(self, request: p.Generate) -> Iterator[p.Token | p.Done]:
        """Sends `request` and yields its Token events, then its Done; raises on its error or a crash."""
        inbox = self._open(request.request_id)
        try:
            self._client.send(request)
            while True:
                event = inbox.get()
                if isinstance(event, p.Token):
                    yield event
                elif isinstance(event, p.Done):
                    yield event
                    return
                else:
                    raise unexpected_event(event)
        finally:
            self._close(request.request_id)

    def embed(self, texts: Sequence[str]) -> p.Embedded:
        request = p.Embed(self.new_request_id(), tuple(texts))
        inbox = self._open(request.request_id)
        try:
            self._client.send(request)
            event = inbox.get()
            if isinstance(event, p.Embedded):
                return event
            raise unexpected_event(event)
        finally:
            self._close(request.request_id)

    def _open(self, request_id: int) -> queue.Queue[p.Event]:
        inbox: queue.Queue[p.Event] = queue.Queue()
        with self._lock:
            self._streams[request_id] = inbox
        crashed = self._client.crashed
        if crashed is not None:
            inbox.put(crashed)
        return inbox

    def _close(self, request_id: int) -> None:
        with self._lock:
            self._streams.pop(request_id, None)

