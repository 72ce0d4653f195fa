"""The chat window's replies on a sequence of the app's own API server (no Qt).

When the app serves its library (app.server.runner.ServerThread) and the Chat page loads a model the server
can serve, the chat does not start a second engine with a second copy of the weights: each reply leases one
sequence of the server's engine through the scheduler, as an API request does. The scheduler stays the one
authority on what is loaded (it may unload the model when idle; the next reply loads it again), chat and API
streams decode side by side in one batch, and Stop names the chat's request only.

The scheduler lives on the server's event loop: this module reaches it from the chat's threads with
`run_coroutine_threadsafe` and releases leases with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from app.chat import protocol as p
from app.chat.batch_client import SharedEngineClient
from app.core.errors import Cancelled, EngineError
from app.server.catalog import ServedModel
from app.server.endpoint import ServerState
from app.server.errors import ApiError
from app.server.model_kind import is_embedding_model
from app.server.scheduler import NO_MEMORY, Finished, Lease, Need, Scheduler, failed_record

log = logging.getLogger("app.server")

STOPPED = "The local server stopped, and with it the engine this chat shared"
STOPPED_HINT = "Reload loads the model in the chat's own engine"


class SharedChat:
    """One model of the local server as the chat's engine: `stream`, `stop` and `close` from any thread."""

    def __init__(self, scheduler: Scheduler, loop: asyncio.AbstractEventLoop, model: ServedModel) -> None:
        self.model = model
        self._scheduler = scheduler
        self._loop = loop
        self._lock = threading.Lock()
        self._running: tuple[SharedEngineClient, int] | None = None  # the engine and its id of the reply
        self._stop_asked = False  # by the chat, for the running reply
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pid(self) -> int | None:
        """The server's engine process for this model while it is loaded."""
        return self._scheduler.pid_of(self.model.id)

    def warm(self) -> p.ModelInfo:
        """Loads the model in the server now (blocking), as the scheduler decides; its ModelInfo."""
        lease = self._acquire()
        self._release(lease)
        return lease.info

    def stream(self, messages: Sequence[p.ChatMessage] = (), *, request_id: int, template: str = "auto",
               sampling: p.Sampling | None = None, context_policy: p.ContextPolicy = "stop",
               tools: str | None = None) -> Iterator[p.Token | p.Done]:
        """The reply's events under the chat's `request_id`; raises an AppError when the engine fails or
        the server stops."""
        with self._lock:
            self._stop_asked = False
        lease = self._acquire()  # waits for a free sequence, loading the model again when it was unloaded
        client = lease.client
        engine_id = client.new_request_id()
        request = p.Generate(engine_id, tuple(messages), None, template, sampling or p.Sampling(),
                             context_policy, tools)
        with self._lock:
            if self._closed or self._stop_asked:
                self._release(lease)
                if self._closed:
                    raise EngineError(STOPPED, hint=STOPPED_HINT)
                raise Cancelled("Stopped before the reply started")
            self._running = (client, engine_id)
        last: p.Token | None = None
        try:
            for event in client.stream_request(request):
                if isinstance(event, p.Token):
                    last = event
                if isinstance(event, p.Done):
                    self._record(event)
                    if event.finish_reason == "stopped" and not self._stop_asked:
                        # Nobody here asked: the server closed its engine (it stops), which ends its replies.
                        raise EngineError(STOPPED, hint=STOPPED_HINT)
                yield dataclasses.replace(event, request_id=request_id)
        except EngineError as exc:
            if client.alive or exc.message == STOPPED:
                raise
            if self._closed or self._scheduler.closing:  # ended with the server, on purpose
                raise EngineError(STOPPED, hint=STOPPED_HINT) from exc
            why = exc.message[:1].lower() + exc.message[1:] + (f"; {exc.hint}" if exc.hint else "")
            died = EngineError(f"The local server's engine for '{self.model.id}' stopped: {why}",
                               hint="send the message again: the server loads the model again")
            self._post(failed_record(self.model.id, 500, died.message, last, source="chat"))
            raise died from exc
        finally:
            with self._lock:
                self._running = None
            self._release(lease)

    def stop(self) -> None:
        """Stops the chat's reply only: the API's requests on the same engine go on."""
        with self._lock:
            running = self._running
            self._stop_asked = True  # also before the reply has its sequence (waiting for one, or a load)
        if running is not None:
            client, engine_id = running
            with contextlib.suppress(EngineError):  # the engine is gone: its stream ends with that error
                client.stop(engine_id)

    def close(self) -> None:
        self._closed = True
        self.stop()

    # ------------------------------------------------------------------ the server's event loop

    def _acquire(self) -> Lease:
        if self._closed:
            raise EngineError(STOPPED, hint=STOPPED_HINT)
        acquiring = self._scheduler.acquire(self.model.id)
        try:
            future = asyncio.run_coroutine_threadsafe(acquiring, self._loop)
        except RuntimeError as exc:  # its loop has closed
            acquiring.close()
            raise EngineError(STOPPED, hint=STOPPED_HINT) from exc
        while True:
            try:
                return future.result(timeout=0.5)  # a load may take minutes: the loop's end is watched meanwhile
            except concurrent.futures.TimeoutError:
                if not self._loop.is_running():
                    future.cancel()
                    raise EngineError(STOPPED, hint=STOPPED_HINT) from None
            except ApiError as exc:
                raise EngineError(f"The local server cannot run '{self.model.id}': {exc.message}") from exc
            except concurrent.futures.CancelledError as exc:  # the server stopped while it waited
                raise EngineError(STOPPED, hint=STOPPED_HINT) from exc

    def _release(self, lease: Lease) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the scheduler's leases went with it
            self._loop.call_soon_threadsafe(lease.release)

    def _record(self, done: p.Done) -> None:
        s = done.stats
        self._post(Finished(self.model.id, done.finish_reason, s.prompt_tokens, s.generated_tokens,
                            s.tokens_per_second, source="chat", sequence=s.sequence))

    def _post(self, finished: Finished) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._scheduler.record, finished)


def served_model_for(state: ServerState, path: str) -> ServedModel | None:
    """The server's model for a file the chat loads: None when it is outside the library, or an embedding
    model (the server loads those for /v1/embeddings only). Scans the library: call it off the GUI thread."""
    target = Path(path).resolve()
    for model in state.catalog.refresh():
        if model.path.resolve() == target:
            return None if is_embedding_model(model.path) else model
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class MoveAnswer:
    """The server's answer to a chat that would move its model there from its own engine."""

    refusal: str | None  # why it cannot (None: it can, and loads the model when the chat lets go)
    freed: Need = NO_MEMORY  # what the chat's engine frees that the server's budget gains (open_shared's `freed`)


def move_refusal(state: ServerState, loop: asyncio.AbstractEventLoop, path: str,
                 settings: p.EngineSettings | None = None, loaded_at: float = float("inf")) -> MoveAnswer:
    """Whether the chat's model at `path`, now in the chat's own engine (loaded with `settings`, ready at
    `loaded_at`, time.monotonic), can move to the server's engine. Asked before the chat's engine frees its
    copy, so that a refusal leaves the chat as it was; that copy counts as free for the model's own move where
    the server's budget left it out (Scheduler.freed_by). Scans the library: call it off the GUI thread."""
    model = served_model_for(state, path)
    if model is None:
        return MoveAnswer("the local server's library does not hold this model file")
    scheduler = state.scheduler

    async def ask() -> MoveAnswer:
        freed = await scheduler.freed_by(model, settings, loaded_at) if settings is not None else NO_MEMORY
        return MoveAnswer(await scheduler.refusal(model, freed), freed)

    asking = ask()
    try:
        future = asyncio.run_coroutine_threadsafe(asking, loop)
    except RuntimeError:  # its loop has closed
        asking.close()
        return MoveAnswer("the local server stopped")
    try:
        return future.result(timeout=60.0)  # estimates from the model's header: quick
    except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
        future.cancel()
        return MoveAnswer("the local server did not answer")


def open_shared(state: ServerState, loop: asyncio.AbstractEventLoop, path: str, freed: Need = NO_MEMORY
                ) -> tuple[SharedChat, p.ModelInfo] | None:
    """The model at `path` on the server's engine, loaded now (blocking); None when the server cannot have
    it (not in its library, or its memory budget refuses it): the chat then runs its own engine. `freed`: the
    memory the chat's own engine has just freed to move this model here (MoveAnswer.freed), added to the
    server's budget first."""
    model = served_model_for(state, path)
    if model is None:
        return None
    scheduler = state.scheduler
    if freed.ram or freed.vram:
        with contextlib.suppress(RuntimeError):  # its loop has closed: warm() says the server stopped
            loop.call_soon_threadsafe(scheduler.add_freed, freed)  # runs before warm()'s acquire
    chat = SharedChat(scheduler, loop, model)
    try:
        info = chat.warm()
    except EngineError as exc:
        if isinstance(exc.__cause__, ApiError) and exc.__cause__.status in (400, 503):
            log.info("the chat loads %s in its own engine: %s", model.id, exc.__cause__.message)
            with contextlib.suppress(RuntimeError):  # the chat's own engine is about to hold that memory again
                loop.call_soon_threadsafe(scheduler.retake, freed)
            return None
        raise
    return chat, info
