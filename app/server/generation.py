"""One generation on a leased engine, as async events, and the two ways a response consumes it.

The engine client's blocking iterator runs on a worker thread, one event at a time (the engine sends text
about every 30 ms, so the hop costs nothing that matters). However a request ends — done, failed, or its
client gone — `close` leaves the engine idle: it sends Stop when the generation is still running and reads
the events up to its Done, so the next request starts on a quiet engine; then the lease is released.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.chat import protocol as p
from app.core.errors import AppError
from app.server import sse
from app.server.errors import ApiError, engine_stopped, from_app_error
from app.server.replies import Plan
from app.server.scheduler import Finished, Lease, failed_record
from app.server.schemas import GenerationRequest

log = logging.getLogger("app.server")

Event = p.Token | p.Done


class Generation:
    def __init__(self, lease: Lease, request: GenerationRequest, template: str, plan: Plan) -> None:
        self.lease = lease
        self.request = request
        self.plan = plan
        self.done: p.Done | None = None
        self.failure: ApiError | None = None  # the error the client got when the generation failed
        self._last: p.Token | None = None  # how far the reply had come, for the log of a failed one
        self._ended = False  # the iterator is exhausted (Done seen, or it raised)
        self._released = False
        self._started = False
        client = lease.client
        self._request_id = client.new_request_id()
        self._events: Iterator[Event | None] = client.stream_request(p.Generate(
            self._request_id, request.messages, request.prompt, template, plan.sampling, tools=plan.tools_json,
        ))

    async def next(self) -> Event:
        """The next event; raises ApiError when the engine refuses or fails the request."""
        if self._ended:
            raise RuntimeError("the generation has ended")
        try:
            event = await anyio.to_thread.run_sync(self._next_event)
        except AppError as exc:
            self._ended = True
            if not self.lease.client.alive:
                if self.lease.scheduler.closing:
                    raise self._failed(ApiError(503, "The server stopped before the answer was complete",
                                                retry_after=1)) from exc
                raise self._failed(engine_stopped(self.lease.model.id, exc)) from exc
            raise self._failed(from_app_error(exc)) from exc
        if event is None:
            self._ended = True
            raise self._failed(ApiError(500, "The engine ended the answer without a result"))
        if isinstance(event, p.Token):
            self._last = event
        elif isinstance(event, p.Done):
            self.done = event
            self._ended = True
        return event

    def _failed(self, error: ApiError) -> ApiError:
        self.failure = error
        return error

    def _next_event(self) -> Event | None:
        self._started = True  # the first next() submits the request to the engine
        return next(self._events, None)

    async def close(self) -> None:
        """Leaves the engine idle and releases the lease; safe to call more than once, even when cancelled."""
        with anyio.CancelScope(shield=True):
            if not self._ended:
                self._ended = True
                await anyio.to_thread.run_sync(self._stop_and_drain)
            if not self._released:
                self._released = True
                self._log()
                self.lease.release()

    def _stop_and_drain(self) -> None:
        if not self._started:  # never submitted: nothing runs on the engine
            self._events.close()  # type: ignore[attr-defined]
            return
        client = self.lease.client
        with contextlib.suppress(AppError):
            client.stop(self._request_id)  # the engine may run other requests beside this one
            for event in self._events:  # up to the Done(stopped) of this request
                if isinstance(event, p.Done):
                    self.done = event

    def _log(self) -> None:
        done = self.done
        model_id = self.lease.model.id
        if done is None:
            if self.failure is not None:  # the engine refused the request, failed it or died under it
                self.lease.scheduler.record(failed_record(model_id, self.failure.status, self.failure.message,
                                                          self._last))
            return
        s = done.stats
        log.info("%s: %d prompt + %d generated tokens, %.1f tok/s, %s", model_id, s.prompt_tokens,
                 s.generated_tokens, s.tokens_per_second, done.finish_reason)
        self.lease.scheduler.record(Finished(model_id, done.finish_reason, s.prompt_tokens, s.generated_tokens,
                                             s.tokens_per_second, sequence=s.sequence))


async def start(lease: Lease, request: GenerationRequest, template: str, plan: Plan) -> tuple[Generation, Event]:
    """Submits the request and waits for its first event, so a refusal (a prompt too long for the
    context, a template error) still becomes an HTTP error status rather than an error inside a stream."""
    generation = Generation(lease, request, template, plan)
    try:
        first = await generation.next()
    except BaseException:
        await generation.close()
        raise
    return generation, first


async def collect(http: Request, generation: Generation, first: Event) -> p.Done | None:
    """The whole answer; None when the client went away first (the generation is stopped)."""
    try:
        if isinstance(first, p.Done):
            return first
        failure: ApiError | None = None
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await http.receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                while generation.done is None:
                    await generation.next()
            except ApiError as exc:  # raised after the group, so that it is not wrapped in an ExceptionGroup
                failure = exc
            group.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return generation.done
    finally:
        await generation.close()


def stream_response(
    generation: Generation,
    first: Event,
    frames: Callable[[AsyncIterator[Event]], AsyncIterator[bytes]],
    error_frame: Callable[[ApiError], bytes],
) -> StreamingResponse:
    """An SSE response whose frames come from `frames(events)`; an engine failure mid-stream becomes one
    error frame in the API's format. Ends the generation however the response ends."""

    async def events() -> AsyncIterator[Event]:
        yield first
        while generation.done is None:
            yield await generation.next()

    async def body() -> AsyncIterator[bytes]:
        try:
            async for frame in frames(events()):
                yield frame
        except ApiError as exc:
            yield error_frame(exc)
        finally:
            await generation.close()

    return _ClosingStream(body(), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


class _ClosingStream(StreamingResponse):
    """Closes its body iterator however the response ends: Starlette cancels the sending task when the
    client disconnects, which leaves the generator suspended; closing it runs its `finally`, which stops
    the generation and frees the engine at once rather than whenever the generator is collected."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            iterator: Any = self.body_iterator
            with anyio.CancelScope(shield=True):
                await iterator.aclose()
