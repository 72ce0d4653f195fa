"""Entry point of the chat engine process: runs requests from the app against one Engine.

A reader thread takes requests off the pipe as they come, so Stop reaches a running generation or load at
once (the main thread checks the flag between tokens and llama.cpp checks it between graph nodes).
Logs, llama.cpp's included, travel back to the app through app.process (its log relay).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from app.chat import protocol as p
from app.core.errors import AppError, EngineError
from app.process.channel import Channel

log = logging.getLogger("app.chat.worker")

PROGRESS_INTERVAL_S = 0.1
# Text is sent at most this often (the first piece at once): every message wakes the app's threads, and on
# a machine whose cores all run llama.cpp a wake-up per token costs more than the token's own Python work.
TOKEN_INTERVAL_S = 0.03


class _Inbox:
    """Requests in arrival order, numbered; a Stop also raises the stop flag of the job in progress."""

    def __init__(self, channel: Channel, stop_event: threading.Event) -> None:
        self._channel = channel
        self._stop_event = stop_event
        self._queue: queue.Queue[tuple[int, Any]] = queue.Queue()
        self.last_stop_seq = -1
        self._thread = threading.Thread(target=self._read, name="engine-inbox", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        seq = 0
        while True:
            try:
                request = self._channel.recv()
            except EOFError:
                request = p.Shutdown()
            seq += 1
            if isinstance(request, (p.Stop, p.Shutdown)):
                self.last_stop_seq = seq
                self._stop_event.set()
            self._queue.put((seq, request))
            if isinstance(request, p.Shutdown):
                return

    def get(self) -> tuple[int, Any]:
        return self._queue.get()

    def poll(self) -> tuple[int, Any] | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def begin(self, seq: int) -> None:
        """Clears the stop flag for job `seq` unless a Stop came after it (clear first, then check)."""
        self._stop_event.clear()
        if self.last_stop_seq > seq:
            self._stop_event.set()


class _Worker:
    def __init__(self, channel: Channel) -> None:
        from app.chat.engine_core import Engine

        self.outbox = channel
        self.engine = Engine()
        self.inbox = _Inbox(channel, self.engine.stop_event)
        self._batch: Any = None  # app.chat.batch.BatchRunner of the loaded context, when n_parallel > 1
        self._leftover: tuple[int, Any] | None = None  # a request the batch runner handed back

    def run(self) -> None:
        L = self.engine.L
        system_info = L.llama_print_system_info().decode("utf-8", errors="replace")
        self.outbox.send(p.Ready(L.__version__, system_info))
        while True:
            seq, request = self._leftover or self.inbox.get()
            self._leftover = None
            if isinstance(request, p.Shutdown):
                break
            if isinstance(request, p.Stop):
                continue  # nothing running any more; the flag is cleared by the next job
            self.inbox.begin(seq)
            try:
                self._handle(request)
            except Exception as exc:
                self.outbox.send(self._error(exc, request))
            if self.outbox.broken:
                break
        self.engine.close()

    @staticmethod
    def _error(exc: Exception, request: Any) -> p.Error:
        if not isinstance(exc, AppError):
            log.exception("engine failure")
            exc = EngineError(f"{type(exc).__name__}: {exc}", hint="see the log for details")
        request_id = request.request_id if isinstance(request, (p.Generate, p.Embed)) else None
        return p.Error(exc, request_id)

    def _handle(self, request: Any) -> None:
        if isinstance(request, p.Load):
            self._load(request)
        elif isinstance(request, p.Generate) and self.engine.settings and self.engine.settings.n_parallel > 1:
            self._generate_batched(request)
        elif isinstance(request, p.Generate):
            self._generate(request)
        elif isinstance(request, p.Embed):
            vectors, n_tokens = self.engine.embed(list(request.texts))
            self.outbox.send(p.Embedded(request.request_id, tuple(tuple(v) for v in vectors), n_tokens))
        elif isinstance(request, p.Unload):
            self.engine.unload()
            self.outbox.send(p.Unloaded())
        else:
            raise TypeError(f"unknown request {type(request).__name__}")

    def _generate_batched(self, request: p.Generate) -> None:
        from app.chat.batch import BatchRunner

        if self._batch is None or not self._batch.serves(self.engine):
            self._batch = BatchRunner(self.engine, self.outbox.send, TOKEN_INTERVAL_S)
        self._leftover = self._batch.run(request, self.inbox.poll)

    def _load(self, request: p.Load) -> None:
        last = 0.0

        def progress(fraction: float) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_INTERVAL_S or fraction >= 1.0:
                last = now
                self.outbox.send(p.LoadProgress(fraction))

        info = self.engine.load(request.path, request.settings, progress)
        self.outbox.send(p.Loaded(info))

    def _generate(self, request: p.Generate) -> None:
        from dataclasses import replace

        from app.chat import mtmd, prompting, template_budget

        engine = self.engine
        if engine.info is None:
            raise EngineError("No model is loaded", hint="load a model first")
        media = mtmd.tokenizer_for(engine, request.messages)  # images or audio: the prompt goes through mtmd
        with template_budget.stoppable(engine.stop_event):  # Stop also ends a slow template render
            prompt = prompting.build(request, engine.info,
                                     media or (lambda text, add: engine.tokenize(text, add_special=add)))
        sampling = replace(request.sampling, stop=prompt.stop)
        request_id = request.request_id
        send = self.outbox.send
        pending: list[str] = []
        last_sent = 0.0
        # Pieces of text (about one per token); the newest token is in the context once the next is sampled.
        n_prompt, generated = len(prompt.tokens), 0

        def on_text(text: str) -> None:
            nonlocal last_sent, generated
            pending.append(text)
            generated += 1
            now = time.monotonic()
            if now - last_sent >= TOKEN_INTERVAL_S:
                last_sent = now
                send(p.Token(request_id, "".join(pending), generated, n_prompt + generated - 1))
                pending.clear()

        result = engine.generate(prompt.tokens, sampling, on_text, media=media.prompt if media else None)
        if pending:
            send(p.Token(request_id, "".join(pending), generated, n_prompt + generated - 1))
        stats = replace(result.stats, dropped_messages=prompt.dropped_messages)
        send(p.Done(request_id, result.text, result.finish_reason, stats))


def main(channel: Channel) -> None:
    """Child process entry (see app.process.child.bootstrap)."""
    try:
        worker = _Worker(channel)
    except Exception as exc:
        log.exception("the chat engine could not start")
        channel.send(p.Error(EngineError(f"The chat engine could not start: {type(exc).__name__}: {exc}")))
        return
    worker.run()
