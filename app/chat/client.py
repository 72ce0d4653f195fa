"""The app's side of the engine process (no Qt): start it, send requests, receive events.

Events are read on a thread. Given `on_event`, the client calls it for every event (on that thread; the GUI
turns it into a queued signal). Without it, events wait in a queue for the blocking helpers `load()`,
`stream()` and `generate()` (CLI, tests, benchmarks). A dead engine becomes a `Crashed` event, and an
EngineError in the blocking helpers.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any

from app.chat import protocol as p
from app.chat.engine_core import ContextFullError, LoadCancelled
from app.core.errors import AppError, EngineError, TemplateError

log = logging.getLogger("app.chat.client")

_ERRORS: dict[str, type[AppError]] = {
    "TemplateError": TemplateError,
    "ContextFullError": ContextFullError,
    "LoadCancelled": LoadCancelled,
}


def error_from(event: p.Error | p.Crashed) -> AppError:
    if isinstance(event, p.Crashed):
        return EngineError(event.message, hint="reload the model; the conversation is kept")
    return _ERRORS.get(event.kind, EngineError)(event.message)


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "The chat engine stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"The chat engine was killed ({name})"
    return f"The chat engine exited unexpectedly (exit code {exitcode})"


class EngineClient:
    def __init__(self, on_event: Callable[[p.Event], None] | None = None) -> None:
        self._on_event = on_event
        self._events: queue.Queue[p.Event] = queue.Queue()
        self._ids = itertools.count(1)
        self._process: Any = None
        self._conn: Connection | None = None
        self._reader: threading.Thread | None = None
        self._closing = False
        self._send_lock = threading.Lock()
        self.ready: p.Ready | None = None
        self.crashed: p.Crashed | None = None

    # ------------------------------------------------------------------ process

    def start(self, timeout: float = 120.0) -> None:
        """Starts the engine process; in queue mode waits until it is ready."""
        from app.workers import chat_engine

        ctx = multiprocessing.get_context("spawn")
        parent_end, child_end = ctx.Pipe(duplex=True)
        level = logging.getLogger("app").getEffectiveLevel()
        self._process = ctx.Process(
            target=chat_engine.main, args=(child_end, level), name="gguf-studio-engine", daemon=True
        )
        self._process.start()
        child_end.close()  # only the child holds it now, so its death shows here as end-of-file
        self._conn = parent_end
        self._reader = threading.Thread(target=self._read, name="engine-events", daemon=True)
        self._reader.start()
        if self._on_event is None:
            event = self._next(timeout)
            if not isinstance(event, p.Ready):
                raise self._unexpected(event)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive() and self.crashed is None

    def _read(self) -> None:
        conn = self._conn
        assert conn is not None
        while True:
            try:
                event = conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(event, p.LogRecord):
                logging.getLogger(event.logger).log(event.level, "%s", event.message)
                continue
            if isinstance(event, p.Ready):
                self.ready = event
            self._dispatch(event)
        if self._closing:
            return
        process = self._process
        process.join(timeout=2.0)
        exitcode = process.exitcode
        crashed = p.Crashed(describe_exit(exitcode), exitcode)
        self.crashed = crashed
        log.error("%s", crashed.message)
        self._dispatch(crashed)

    def _dispatch(self, event: p.Event) -> None:
        if self._on_event is not None:
            self._on_event(event)
        else:
            self._events.put(event)

    def send(self, request: p.Request) -> None:
        if self._conn is None:
            raise EngineError("The chat engine is not running")
        if self.crashed is not None:
            raise error_from(self.crashed)
        with self._send_lock:
            try:
                self._conn.send(request)
            except (OSError, ValueError) as exc:
                raise EngineError("The chat engine is not running", hint="reload the model") from exc

    def close(self, timeout: float = 3.0) -> None:
        """Asks the engine to quit; terminates it, then kills it, if it does not."""
        self._closing = True
        process, conn = self._process, self._conn
        if process is None:
            return
        if process.is_alive() and conn is not None:
            try:
                with self._send_lock:
                    conn.send(p.Shutdown())
            except (OSError, ValueError):
                pass
            process.join(timeout)
        if process.is_alive():
            process.terminate()
            process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join(1.0)
        if conn is not None:
            conn.close()
        self._process = None
        self._conn = None

    # ------------------------------------------------------------------ requests

    def new_request_id(self) -> int:
        return next(self._ids)

    def stop(self) -> None:
        self.send(p.Stop())

    def submit(
        self,
        messages: Sequence[p.ChatMessage] = (),
        *,
        prompt: str | None = None,
        template: str = "auto",
        sampling: p.Sampling | None = None,
        context_policy: p.ContextPolicy = "stop",
    ) -> int:
        """Sends a Generate request; returns its id (events carry it)."""
        request_id = self.new_request_id()
        self.send(p.Generate(request_id, tuple(messages), prompt, template, sampling or p.Sampling(),
                             context_policy))
        return request_id

    # ------------------------------------------------------------------ blocking helpers (queue mode)

    def _next(self, timeout: float | None) -> p.Event:
        if self._on_event is not None:
            raise RuntimeError("blocking helpers need a client without on_event")
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            raise EngineError("The chat engine did not answer in time") from None

    def _unexpected(self, event: p.Event) -> AppError:
        if isinstance(event, (p.Error, p.Crashed)):
            return error_from(event)
        return EngineError(f"Unexpected answer from the chat engine: {type(event).__name__}")

    def load(
        self,
        path: str,
        settings: p.EngineSettings | None = None,
        on_progress: Callable[[float], None] | None = None,
        timeout: float | None = None,
    ) -> p.ModelInfo:
        self.send(p.Load(str(path), settings or p.EngineSettings()))
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = self._next(left)
            if isinstance(event, p.LoadProgress):
                if on_progress is not None:
                    on_progress(event.fraction)
            elif isinstance(event, p.Loaded):
                return event.info
            else:
                raise self._unexpected(event)

    def unload(self, timeout: float = 30.0) -> None:
        self.send(p.Unload())
        event = self._next(timeout)
        if not isinstance(event, p.Unloaded):
            raise self._unexpected(event)

    def stream(
        self, messages: Sequence[p.ChatMessage] = (), **kwargs: Any
    ) -> Iterator[p.Token | p.Done]:
        """Yields Token events, then the Done event. Raises on an engine error or crash."""
        request_id = self.submit(messages, **kwargs)
        while True:
            event = self._next(None)
            if isinstance(event, p.Token) and event.request_id == request_id:
                yield event
            elif isinstance(event, p.Done) and event.request_id == request_id:
                yield event
                return
            elif isinstance(event, (p.Token, p.Done)):
                continue  # left over from an earlier request
            else:
                raise self._unexpected(event)

    def generate(self, messages: Sequence[p.ChatMessage] = (), **kwargs: Any) -> p.Done:
        for event in self.stream(messages, **kwargs):
            if isinstance(event, p.Done):
                return event
        raise EngineError("The generation ended without a result")

    def __enter__(self) -> EngineClient:
        if self._process is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
