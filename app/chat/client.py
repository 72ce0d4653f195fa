"""The app's side of the engine process (no Qt): start it, send requests, receive events.

Events are read on a thread. Given `on_event`, the client calls it for every event (on that thread; the GUI
turns it into a queued signal). Without it, events wait in a queue for the blocking helpers `load()`,
`stream()` and `generate()` (CLI, tests, benchmarks). A dead engine becomes a `Crashed` event, and an
EngineError in the blocking helpers.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from app.chat import protocol as p
from app.core.errors import AppError, EngineError
from app.process.outcome import Outcome
from app.process.supervisor import Supervisor

log = logging.getLogger("app.chat.client")

ENTRY = "app.workers.chat_engine"
SUBJECT = "the chat engine"
LOADING = "while loading the model"
GENERATING = "while answering"


def error_from(event: p.Error | p.Crashed) -> AppError:
    if isinstance(event, p.Crashed):
        return EngineError(event.message, hint=event.hint)
    return event.error


class EngineClient:
    def __init__(self, on_event: Callable[[p.Event], None] | None = None, nice: int = 0) -> None:
        self._on_event = on_event
        self._nice = nice  # steps below the app's priority (app.process.child.lower_priority)
        self._events: queue.Queue[p.Event] = queue.Queue()
        self._ids = itertools.count(1)
        self._child: Supervisor | None = None
        self._closing = False
        self._send_lock = threading.Lock()
        self.ready: p.Ready | None = None
        self.crashed: p.Crashed | None = None

    # ------------------------------------------------------------------ process

    def start(self, timeout: float = 120.0) -> None:
        """Starts the engine process; in queue mode waits until it is ready."""
        self._child = Supervisor(ENTRY, subject=SUBJECT, on_message=self._on_message, on_exit=self._on_exit,
                                 nice=self._nice)
        self._child.start()
        if self._on_event is None:
            event = self._next(timeout)
            if not isinstance(event, p.Ready):
                raise self._unexpected(event)

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def alive(self) -> bool:
        return self._child is not None and self._child.alive and self.crashed is None

    def _on_message(self, event: p.Event) -> None:
        if isinstance(event, p.Ready):
            self.ready = event
        elif isinstance(event, (p.Loaded, p.Done, p.Error, p.Unloaded)) and self._child is not None:
            self._child.activity = ""
        self._dispatch(event)

    def _on_exit(self, outcome: Outcome) -> None:
        if self._closing:
            return
        crashed = p.Crashed(outcome.sentence, outcome.exitcode, outcome.hint)
        self.crashed = crashed
        self._dispatch(crashed)

    def _dispatch(self, event: p.Event) -> None:
        if self._on_event is not None:
            self._on_event(event)
        else:
            self._events.put(event)

    def send(self, request: p.Request) -> None:
        child = self._child
        if child is None:
            raise EngineError("The chat engine is not running")
        if self.crashed is not None:
            raise error_from(self.crashed)
        with self._send_lock:
            if isinstance(request, p.Load):
                child.activity = LOADING
            elif isinstance(request, p.Generate):
                child.activity = GENERATING
            if not child.send(request):
                raise EngineError("The chat engine is not running", hint="reload the model")

    def close(self, timeout: float = 3.0) -> None:
        """Asks the engine to quit; terminates it, then kills it, if it does not."""
        self._closing = True
        child = self._child
        if child is None:
            return
        with self._send_lock:
            child.stop(p.Shutdown(), grace=timeout)
        self._child = None

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
        tools: str | None = None,
    ) -> int:
        """Sends a Generate request; returns its id (events carry it)."""
        request_id = self.new_request_id()
        self.send(p.Generate(request_id, tuple(messages), prompt, template, sampling or p.Sampling(),
                             context_policy, tools))
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
        return unexpected_event(event)

    def load(
        self,
        path: str,
        settings: p.EngineSettings | None = None,
        on_progress: Callable[[float], None] | None = None,
        timeout: float | None = None,
    ) -> p.ModelInfo:
        self.send(p.Load(str(path), settings or p.EngineSettings()))
        return wait_for_load(self._next, self._unexpected, on_progress, timeout)

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
        yield from self._replies(request_id)

    def stream_request(self, request: p.Generate) -> Iterator[p.Token | p.Done]:
        """`stream` for a ready Generate request (its id from `new_request_id`)."""
        self.send(request)
        yield from self._replies(request.request_id)

    def _replies(self, request_id: int) -> Iterator[p.Token | p.Done]:
        while True:
            event = self._next(None)
            if isinstance(event, (p.Token, p.Done, p.Embedded)) and event.request_id != request_id:
                continue  # left over from an earlier request
            if isinstance(event, p.Token):
                yield event
            elif isinstance(event, p.Done):
                yield event
                return
            else:
                raise self._unexpected(event)

    def embed(self, texts: Sequence[str]) -> p.Embedded:
        """Pooled vectors of `texts` (the model must be loaded with EngineSettings.embeddings)."""
        request = p.Embed(self.new_request_id(), tuple(texts))
        self.send(request)
        while True:
            event = self._next(None)
            if isinstance(event, (p.Token, p.Done, p.Embedded)) and event.request_id != request.request_id:
                continue  # left over from an earlier request
            if isinstance(event, p.Embedded):
                return event
            raise self._unexpected(event)

    def generate(self, messages: Sequence[p.ChatMessage] = (), **kwargs: Any) -> p.Done:
        for event in self.stream(messages, **kwargs):
            if isinstance(event, p.Done):
                return event
        raise EngineError("The generation ended without a result")

    def __enter__(self) -> EngineClient:
        if self._child is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for_load(
    next_event: Callable[[float | None], p.Event],
    unexpected: Callable[[p.Event], AppError],
    on_progress: Callable[[float], None] | None,
    timeout: float | None,
) -> p.ModelInfo:
    """The engine's answer to a Load: progress until Loaded, anything else an error."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        event = next_event(left)
        if isinstance(event, p.LoadProgress):
            if on_progress is not None:
                on_progress(event.fraction)
        elif isinstance(event, p.Loaded):
            return event.info
        else:
            raise unexpected(event)


def unexpected_event(event: p.Event) -> AppError:
    """An engine event that is not the answer asked for: its own error, or a protocol slip."""
    if isinstance(event, (p.Error, p.Crashed)):
        return error_from(event)
    return EngineError(f"Unexpected answer from the chat engine: {type(event).__name__}")
