"""Several generations at once on one engine: llama.cpp sequences in one context, one decode per step.

Used when the engine is loaded with `EngineSettings.n_parallel > 1` (the server's `--parallel N`). Each
request runs on a sequence of its own, with its own sampler chain, text stream and stop strings; every step
decodes, in one llama.cpp batch, the last sampled token of every generating sequence and as much of the
waiting prompts as the batch has room for (so a long prompt never stalls the streams already running).
A sequence keeps its tokens in the cache when its request ends: the next request takes a free sequence that
keeps the busy sequence ids packed (see `_pick`), among those the one whose cached tokens share the longest
prefix with its prompt, and evaluates only what differs.

Requests that arrive while some run join at the next step; a Stop naming a request ends that one only.
Any other request (load, unload, embeddings, shutdown) stops those running and is handed back to the
worker's main loop. Failures are sent as the Error of each request they hit; the runner never raises.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from app.chat import prompting
from app.chat import protocol as p
from app.chat.constrained import ConstrainedSampler
from app.chat.engine_core import Engine, common_prefix
from app.chat.media import has_media
from app.chat.textstream import StopMatcher, Utf8Stream
from app.core.errors import AppError, ContextFullError, EngineError, MediaError

log = logging.getLogger("app.chat.batch")

Poll = Callable[[], "tuple[int, Any] | None"]
Send = Callable[[Any], object]


@dataclass(slots=True)
class _Sequence:
    """A llama.cpp sequence id and the tokens whose K/V it holds (position = index)."""

    seq: int
    cached: list[int] = field(default_factory=list)
    last_used: float = 0.0
    busy: bool = False


@dataclass(slots=True)
class _Job:
    request_id: int
    sequence: _Sequence
    tokens: list[int]
    sampling: p.Sampling
    dropped: int
    chain: Any
    constrained: ConstrainedSampler | None
    started: float
    evaluated: int  # prompt tokens evaluated for this request (the rest came from the cache)
    pos: int  # next prompt index to evaluate; == len(tokens) once the prompt is in
    utf8: Utf8Stream = field(default_factory=Utf8Stream)
    stops: StopMatcher = field(default_factory=lambda: StopMatcher(()))
    parts: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    generated: list[int] = field(default_factory=list)
    last_sent: float = 0.0
    prompt_done: float = 0.0
    first_at: float = 0.0
    next_token: int | None = None  # sampled, to be decoded at the next step
    chunk: int = 0  # prompt tokens put into the current batch


class BatchRunner:
    """The sequences of one loaded context; made again when the engine loads another model."""

    def __init__(self, engine: Engine, send: Send, token_interval: float) -> None:
        if engine.settings is None or engine.info is None:
            raise EngineError("No model is loaded", hint="load a model first")
        self.engine = engine
        self.context = engine._ctx
        self._send = send
        self._interval = token_interval
        self._L = engine.L
        self._n_ctx_seq = engine.info.n_ctx
        self._n_batch = engine.settings.n_batch
        self._sequences = [_Sequence(i) for i in range(engine.settings.n_parallel)]
        self._jobs: list[_Job] = []  # running, in arrival order
        self._waiting: collections.deque[p.Generate] = collections.deque()

    def serves(self, engine: Engine) -> bool:
        return engine._ctx is not None and engine._ctx is self.context

    # ------------------------------------------------------------------ the loop

    def run(self, first: p.Generate, poll: Poll) -> tuple[int, Any] | None:
        """Serves `first` and every Generate that arrives until none is left; returns the first request of
        another kind (the worker's main loop handles it), or None."""
        self._admit(first)
        leftover: tuple[int, Any] | None = None
        while self._jobs or self._waiting:
            while leftover is None and (item := poll()) is not None:
                request = item[1]
                if isinstance(request, p.Generate):
                    self._admit(request)
                elif isinstance(request, p.Stop):
                    self._stop(request.request_id)
                else:
                    leftover = item
                    self._stop(None)
            if not self._jobs:
                break
            try:
                self._step()
            except Exception as exc:  # one decode failed: every running request hears of it
                self._fail_all(exc)
        return leftover

    # ------------------------------------------------------------------ admission

    def _admit(self, request: p.Generate) -> None:
        free = [s for s in self._sequences if not s.busy]
        if not free:
            self._waiting.append(request)
            return
        try:
            job = self._job(request, free)
        except Exception as exc:
            self._send(p.Error(_app_error(exc), request.request_id))
            return
        self._jobs.append(job)

    def _job(self, request: p.Generate, free: list[_Sequence]) -> _Job:
        engine = self.engine
        assert engine.info is not None
        started = time.perf_counter()
        if has_media(request.messages):  # mtmd evaluates into one sequence at a time (app.chat.mtmd)
            raise MediaError("Images and audio are answered one request at a time",
                             hint="serve this model with one parallel request (--parallel 1)")
        prompt = prompting.build(request, engine.info, lambda text, add: engine.tokenize(text, add_special=add))
        tokens = prompt.tokens
        if not tokens:
            raise EngineError("The prompt is empty")
        if len(tokens) >= self._n_ctx_seq:
            raise ContextFullError(f"The prompt ({len(tokens)} tokens) does not fit the context ({self._n_ctx_seq})")
        sampling = replace(request.sampling, stop=prompt.stop)
        sequence = self._pick(free, tokens)
        keep = self._reuse(sequence, tokens)
        constrained = ConstrainedSampler(self._L, engine._vocab, sampling.grammar) if sampling.grammar else None
        chain = engine._sampler(sampling)
        sequence.busy = True
        return _Job(request.request_id, sequence, tokens, sampling, prompt.dropped_messages, chain, constrained,
                    started, len(tokens) - keep, keep, stops=StopMatcher(sampling.stop))

    def _pick(self, free: list[_Sequence], tokens: list[int]) -> _Sequence:
        """The free sequence for a new request. Each sequence has a cache stream of its own, and llama.cpp decodes
        one run of consecutive busy ids per pass over the weights (see `_step`): busy ids 0, 2, 3 cost two passes
        per generated token where 0, 1, 2 cost one, which on a large bandwidth-bound model nearly doubles the
        step. So the fewest runs first (with nothing else busy every sequence ties); then the longest cached
        prefix of this prompt (a whole conversation sent again); then the least recently used, then the lowest
        id, which keeps the other caches for the prompts that come back."""
        busy = {s.seq for s in self._sequences if s.busy}

        def cost(s: _Sequence) -> tuple[int, int, float, int]:
            return _runs(busy | {s.seq}), -common_prefix(s.cached, tokens), s.last_used, s.seq

        return min(free, key=cost)

    def _reuse(self, sequence: _Sequence, tokens: list[int]) -> int:
        """Drops from the sequence what differs from `tokens`; returns how many cached tokens are kept."""
        L, seq = self._L, sequence.seq
        mem = L.llama_get_memory(self.context)
        keep = common_prefix(sequence.cached, tokens)
        if keep == len(tokens):
            keep -= 1  # the last prompt token is evaluated again: its logits give the first token
        info, settings = self.engine.info, self.engine.settings
        swa = keep > 0 and info is not None and info.n_swa > 0 and settings is not None and not settings.swa_full
        if swa and info is not None and L.llama_memory_seq_pos_min(mem, seq) > max(0, keep - info.n_swa):
            keep = 0  # the sliding window no longer holds what position `keep` attends to
        if keep < len(sequence.cached) and (keep <= 0 or not L.llama_memory_seq_rm(mem, seq, keep, -1)):
            keep = 0
        if keep == 0:
            L.llama_memory_seq_rm(mem, seq, -1, -1)
        del sequence.cached[keep:]
        return keep

    # ------------------------------------------------------------------ one step

    def _step(self) -> None:
        L, batch = self._L, self.engine._batch
        outputs: list[tuple[_Job, int]] = []
        # room first for every generating sequence's next token, then prompt chunks in arrival order
        room = self._n_batch - sum(1 for job in self._jobs if job.next_token is not None)
        for job in self._jobs:
            job.chunk = 0
            if job.next_token is not None or job.pos >= len(job.tokens) or room <= 0:
                continue
            job.chunk = min(room, len(job.tokens) - job.pos)
            room -= job.chunk
        # Tokens go in in sequence-id order: each sequence has a cache stream of its own, and llama.cpp splits
        # such a batch into one ubatch per run of consecutive ids, each a pass over the weights.
        n = 0
        for job in sorted(self._jobs, key=lambda j: j.sequence.seq):
            seq_id = job.sequence.seq
            if job.next_token is not None:
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = job.next_token, len(job.sequence.cached), 1
                batch.seq_id[n][0], batch.logits[n] = seq_id, 1
                outputs.append((job, n))
                n += 1
            elif job.chunk:
                take = job.chunk
                for i in range(take):
                    batch.token[n + i], batch.pos[n + i], batch.n_seq_id[n + i] = (job.tokens[job.pos + i],
                                                                                   job.pos + i, 1)
                    batch.seq_id[n + i][0], batch.logits[n + i] = seq_id, 0
                n += take
                if job.pos + take == len(job.tokens):
                    batch.logits[n - 1] = 1
                    outputs.append((job, n - 1))
        if n == 0:
            return
        batch.n_tokens = n
        rc = L.llama_decode(self.context, batch)
        if rc == 1:  # no room left in the cache for this batch: the requests in it end here
            for job in [j for j in self._jobs if j.chunk or j.next_token is not None]:
                self._resync(job.sequence)
                self._finish(job, "context_full")
            return
        if rc != 0:
            raise EngineError(f"llama_decode failed ({rc}): {self.engine._why()}")
        now = time.perf_counter()
        for job in self._jobs:
            if job.next_token is not None:
                job.sequence.cached.append(job.next_token)
                job.next_token = None
            elif job.chunk:
                job.sequence.cached.extend(job.tokens[job.pos : job.pos + job.chunk])
                job.pos += job.chunk
                if job.pos == len(job.tokens):
                    job.prompt_done = now
        for job, index in outputs:
            self._sample(job, index)

    def _sample(self, job: _Job, index: int) -> None:
        L, ctx = self._L, self.context
        if job.constrained is None:
            token = int(L.llama_sampler_sample(job.chain, ctx, index))
        else:
            token = job.constrained.sample(job.chain, ctx, index)
        if not job.first_at:
            job.first_at = time.perf_counter()
        if L.llama_vocab_is_eog(self.engine._vocab, token):
            self._finish(job, "eog")
            return
        job.generated.append(token)
        text = job.stops.feed(job.utf8.feed(self.engine.piece(token, special=job.sampling.special_text)))
        if text:
            self._emit(job, text)
        if job.stops.hit is not None:
            self._finish(job, "stop_string")
        elif len(job.generated) >= job.sampling.max_tokens:
            self._finish(job, "length")
        elif len(job.sequence.cached) >= self._n_ctx_seq:
            self._finish(job, "context_full")
        else:
            job.next_token = token

    def _emit(self, job: _Job, text: str) -> None:
        job.parts.append(text)
        job.pending.append(text)
        now = time.monotonic()
        if now - job.last_sent >= self._interval:
            job.last_sent = now
            self._flush(job)

    def _flush(self, job: _Job) -> None:
        if job.pending:
            n = len(job.generated)
            self._send(p.Token(job.request_id, "".join(job.pending), n, len(job.tokens) + n))
            job.pending.clear()

    # ------------------------------------------------------------------ endings

    def _finish(self, job: _Job, reason: p.FinishReason) -> None:
        if reason != "stop_string":
            tail = job.stops.feed(job.utf8.flush()) + job.stops.flush()
            if tail:
                job.parts.append(tail)
                job.pending.append(tail)
        self._flush(job)
        ended = time.perf_counter()
        first_at = job.first_at
        stats = p.Stats(
            prompt_tokens=len(job.tokens),
            prompt_evaluated=job.evaluated,
            prompt_seconds=(job.prompt_done or ended) - job.started,
            generated_tokens=len(job.generated) + (1 if reason == "eog" else 0),
            generation_seconds=(ended - first_at) if first_at else 0.0,
            ttft_seconds=(first_at - job.started) if first_at else 0.0,
            context_used=len(job.sequence.cached),
            context_size=self._n_ctx_seq,
            dropped_messages=job.dropped,
            sequence=job.sequence.seq,
        )
        self._release(job)
        self._send(p.Done(job.request_id, "".join(job.parts), reason, stats))

    def _release(self, job: _Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        self._L.llama_sampler_free(job.chain)
        if job.constrained is not None:
            job.constrained.free()
        if job.next_token is not None:  # sampled but never decoded: not in the cache
            job.next_token = None
        job.sequence.busy = False
        job.sequence.last_used = time.monotonic()
        while self._waiting and any(not s.busy for s in self._sequences):
            self._admit(self._waiting.popleft())

    def _stop(self, request_id: int | None) -> None:
        for request in [r for r in self._waiting if request_id is None or r.request_id == request_id]:
            self._waiting.remove(request)
            self._send(p.Done(request.request_id, "", "stopped", p.Stats(0, 0, 0.0, 0, 0.0, 0.0, 0, self._n_ctx_seq)))
        for job in [j for j in self._jobs if request_id is None or j.request_id == request_id]:
            self._finish(job, "stopped")

    def _resync(self, sequence: _Sequence) -> None:
        mem = self._L.llama_get_memory(self.context)
        pos_max = int(self._L.llama_memory_seq_pos_max(mem, sequence.seq))
        del sequence.cached[max(0, pos_max + 1):]

    def _fail_all(self, exc: Exception) -> None:
        log.error("batched decode failed: %s", exc)
        error = _app_error(exc)
        self._L.llama_memory_clear(self._L.llama_get_memory(self.context), True)
        for sequence in self._sequences:
            sequence.cached.clear()
        for job in list(self._jobs):
            self._release(job)
            self._send(p.Error(error, job.request_id))


def _runs(ids: set[int]) -> int:
    """How many runs of consecutive ids `ids` makes: {0, 1, 2} one, {0, 2, 3} two."""
    return sum(1 for i in ids if i - 1 not in ids)


def _app_error(exc: Exception) -> AppError:
    if isinstance(exc, AppError):
        return exc
    log.exception("engine failure")
    return EngineError(f"{type(exc).__name__}: {exc}", hint="see the log for details")
