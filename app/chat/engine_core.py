"""llama.cpp through llama-cpp-python's low-level API: load, evaluate, sample, stream. No Qt, no pipes.

Per generated token the Python work is one native sample, one token-to-piece and one one-token decode:
sampling runs in llama.cpp's sampler chain, never over the logits in Python (a 262k vocabulary makes
that 8x slower). The KV cache of the previous request is kept: a new prompt evaluates only what differs.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.chat.constrained import ConstrainedSampler
from app.chat.overrides import TensorOverrides, cpu_moe_overrides
from app.chat.protocol import EngineSettings, FinishReason, ModelInfo, Sampling, Stats
from app.chat.textstream import StopMatcher, Utf8Stream
from app.core.errors import AppError, Cancelled, ContextFullError, EngineError
from app.estimate.engine import OUTPUTS_MAX as OUTPUTS_MAX  # re-exported: the engine's one output row
from app.estimate.engine import engine_load_settings, refused_cache_types
from app.estimate.flash import usable_flash_attn
from app.estimate.settings import LoadSettings, is_quantized_kv
from app.process import native_log

log = logging.getLogger("app.chat.engine")

_GGML_TYPES = {
    "f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "iq4_nl": 20, "bf16": 30,
}
_FLASH = {"auto": -1, "off": 0, "on": 1}
_POOLING = {"model": -1, "mean": 1, "cls": 2, "last": 3}  # llama_pooling_type (-1: the model's own)
_POOLING_NONE = 0
_SEQ = 0


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    finish_reason: FinishReason
    stats: Stats
    tokens: tuple[int, ...]


def _llama() -> Any:
    import llama_cpp

    return llama_cpp


def default_threads() -> int:
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:  # psutil is a dependency; this only guards odd installs
        physical = None
    return max(1, physical or os.cpu_count() or 1)


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class Engine:
    """One loaded model and its context. Not thread-safe except `stop_event`, which any thread may set
    to end the running load or generation; whoever starts the next job clears it."""

    def __init__(self) -> None:
        self.L = _llama()
        native_log.install()
        self.L.llama_backend_init()
        self.stop_event = threading.Event()
        self._model: Any = None
        self._ctx: Any = None
        self._vocab: Any = None
        self._batch: Any = None
        self._n_batch = 0
        self._cached: list[int] = []  # tokens whose K/V are in the cache, position = index
        self._overrides: TensorOverrides | None = None
        self._projector: Any = None  # app.chat.mtmd.Projector while a projector is loaded
        self._pool: Any = None
        self._rpc_used = False  # once a worker is registered, every load names its devices
        self._piece_buf = ctypes.create_string_buffer(256)
        self.info: ModelInfo | None = None
        self.settings: EngineSettings | None = None
        # ggml calls the abort callback between graph nodes; it is installed only while a prompt is
        # evaluated (long batches), since generation checks the stop flag between tokens anyway.
        self._abort_cb = self.L.ggml_abort_callback(lambda _data: self.stop_event.is_set())
        self._no_abort_cb = self.L.ggml_abort_callback()

    # ------------------------------------------------------------------ load / unload

    @property
    def loaded(self) -> bool:
        return self._ctx is not None

    def load(
        self, path: str, settings: EngineSettings, progress: Callable[[float], None] | None = None
    ) -> ModelInfo:
        L = self.L
        self.unload()
        if not os.path.isfile(path):
            raise EngineError(f"Model file not found: {path}")
        if settings.type_k not in _GGML_TYPES or settings.type_v not in _GGML_TYPES:
            raise EngineError(f"Unknown K/V cache type {settings.type_k}/{settings.type_v}")
        if settings.type_v != "f16" and settings.flash_attn == "off":
            raise EngineError("A quantized V cache needs flash attention", hint="set flash attention to auto or on")
        refused = refused_cache_types(path, settings)  # some would abort llama.cpp's process, not be refused
        if refused is not None:
            raise EngineError(f"This model cannot use these K/V cache types: {refused.message}", hint=refused.hint)
        native_log.clear_recent()
        started = time.perf_counter()

        def on_progress(fraction: float, _data: object) -> bool:
            if progress is not None:
                progress(float(fraction))
            return not self.stop_event.is_set()

        progress_cb = L.llama_progress_callback(on_progress)
        mparams = L.llama_model_default_params()
        mparams.n_gpu_layers = settings.n_gpu_layers
        mparams.progress_callback = progress_cb
        if not settings.use_mmap:
            mparams.load_mode = 0
        mparams.use_extra_bufts = settings.repack
        self._pool = self._attach_pool(settings)  # kept alive with the model
        if self._pool is not None:
            self._pool.apply(mparams)
        self._overrides = cpu_moe_overrides(L, settings.n_cpu_moe)  # kept alive with the model
        if self._overrides is not None:
            mparams.tensor_buft_overrides = self._overrides.pointer
        model = L.llama_model_load_from_file(path.encode(), mparams)
        if not model:
            if self.stop_event.is_set():
                raise Cancelled("Loading was cancelled")
            raise EngineError(f"llama.cpp could not load {os.path.basename(path)}: {self._why()}")

        threads = settings.n_threads or default_threads()
        cparams = L.llama_context_default_params()
        # The context is made from the load settings the memory estimate is fed (app.estimate.engine). Only
        # the last prompt token's logits are ever read: one output row keeps the compute buffer of a
        # 262k-vocabulary model at ~20 MiB instead of ~500 MiB.
        load = engine_load_settings(settings)
        cparams.n_ctx = load.n_ctx
        cparams.n_batch = load.n_batch
        cparams.n_ubatch = load.n_ubatch
        cparams.n_seq_max = load.n_seq_max
        cparams.n_outputs_max = load.n_outputs_max
        cparams.kv_unified = load.kv_unified
        cparams.offload_kqv = load.offload_kqv
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.type_k = _GGML_TYPES[settings.type_k]
        cparams.type_v = _GGML_TYPES[settings.type_v]
        cparams.flash_attn_type = _FLASH[self._usable_flash_attn(model, load)]
        cparams.swa_full = load.swa_full
        cparams.no_perf = True
        if settings.embeddings:
            # Every token is an output and a text is evaluated in one ubatch (non-causal encoders need it).
            cparams.embeddings = True
            cparams.pooling_type = _POOLING[settings.pooling]
            cparams.n_outputs_max = 0
            cparams.n_batch = cparams.n_ubatch = max(load.n_batch, load.n_ctx)
        ctx = L.llama_init_from_model(model, cparams)
        if not ctx:
            L.llama_model_free(model)
            raise EngineError(
                f"llama.cpp could not create a context of {settings.n_ctx} tokens: {self._why()}",
                hint="try a smaller context or a smaller K/V cache type",
            )
        self._model, self._ctx = model, ctx
        self._vocab = L.llama_model_get_vocab(model)
        self._n_batch = settings.n_batch
        self._batch = L.llama_batch_init(settings.n_batch, 0, 1)
        self._cached = []
        self.settings = settings
        if settings.mmproj:
            self._load_projector(settings, threads)
        self.info = self._describe(path, time.perf_counter() - started)
        log.info("loaded %s: n_ctx=%d threads=%d", path, self.info.n_ctx, threads)
        return self.info

    def _usable_flash_attn(self, model: Any, load: LoadSettings) -> str:
        """The flash attention asked for, or off where llama.cpp cannot run the model's architecture with it
        (its graph would abort the process); the estimate assumes the same (app.estimate.flash). Frees
        `model` when the settings then cannot work."""
        buf = ctypes.create_string_buffer(64)
        found = self.L.llama_model_meta_val_str(model, b"general.architecture", buf, len(buf)) >= 0
        arch = buf.value.decode("utf-8", errors="replace") if found else ""
        usable = usable_flash_attn(arch, load.flash_attn).value
        if usable == "off" and is_quantized_kv(load.type_v):
            self.L.llama_model_free(model)
            raise EngineError(f"A quantized V cache needs flash attention, which {arch} models cannot use",
                              hint="use an f16 V cache")
        return usable

    def _attach_pool(self, settings: EngineSettings) -> Any:
        """RPC workers probed (a clear RpcError, never ggml's abort), registered and given their layer split."""
        if not settings.rpc_workers and not self._rpc_used:
            return None
        from app.remote.pool import attach

        self._rpc_used = True  # ggml cannot forget a worker: a removed one must never be used by default
        pool = attach(settings.rpc_workers, self.L.llama_max_devices())
        if pool is not None:
            plan = pool.plan
            log.info("device pool: %s", ", ".join(f"{d.name} ({d.description}) {share:.0%}"
                                                  for d, share in zip(plan.devices, plan.split, strict=True)))
        return pool

    def _why(self) -> str:
        problems = native_log.recent_problems()
        return problems[-1] if problems else "see the log for details"

    def _describe(self, path: str, seconds: float) -> ModelInfo:
        L, model, vocab = self.L, self._model, self._vocab
        buf = ctypes.create_string_buffer(256)
        L.llama_model_desc(model, buf, len(buf))
        template = L.llama_model_chat_template(model, None)
        bos = L.llama_vocab_bos(vocab)
        eos = L.llama_vocab_eos(vocab)
        return ModelInfo(
            path=path,
            description=buf.value.decode("utf-8", errors="replace"),
            # each of n_parallel sequences has n_ctx of the context's cells (app.chat.batch)
            n_ctx=L.llama_n_ctx(self._ctx) // max(1, self.settings.n_parallel if self.settings else 1),
            n_ctx_train=L.llama_model_n_ctx_train(model),
            n_layer=L.llama_model_n_layer(model),
            n_vocab=L.llama_vocab_n_tokens(vocab),
            n_swa=L.llama_model_n_swa(model),
            chat_template=template.decode("utf-8", errors="replace") if template else None,
            bos_text=self.token_text(bos) if bos >= 0 else "",
            eos_text=self.token_text(eos) if eos >= 0 else "",
            add_bos=bool(L.llama_vocab_get_add_bos(vocab)),
            load_seconds=seconds,
            vision=bool(self._projector and self._projector.vision),
            audio=bool(self._projector and self._projector.audio),
        )

    def _load_projector(self, settings: EngineSettings, threads: int) -> None:
        from app.chat.mtmd import Projector

        try:
            self._projector = Projector(settings.mmproj, self._model, self.L.llama_model_n_embd_inp(self._model),
                                        n_threads=threads, use_gpu=settings.n_gpu_layers != 0,
                                        flash_attn=_FLASH[settings.flash_attn])
        except BaseException:
            self.unload()
            raise

    @property
    def projector(self) -> Any:
        """The loaded app.chat.mtmd.Projector, or None."""
        return self._projector

    def unload(self) -> None:
        L = self.L
        if self._projector is not None:
            self._projector.free()
            self._projector = None
        if self._batch is not None:
            L.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            L.llama_free(self._ctx)
            self._ctx = None
        if self._model is not None:
            L.llama_model_free(self._model)
            self._model = None
        self._vocab = None
        self._cached = []
        self.info = None

    # ------------------------------------------------------------------ tokens

    def _require(self) -> None:
        if self._ctx is None:
            raise EngineError("No model is loaded")

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool = True) -> list[int]:
        self._require()
        data = text.encode("utf-8")
        capacity = len(data) + 8
        out = (self.L.llama_token * capacity)()
        n = self.L.llama_tokenize(self._vocab, data, len(data), out, capacity, add_special, parse_special)
        if n < 0:
            capacity = -n
            out = (self.L.llama_token * capacity)()
            n = self.L.llama_tokenize(self._vocab, data, len(data), out, capacity, add_special, parse_special)
        if n < 0:
            raise EngineError("The text could not be tokenized")
        return list(out[:n])

    def piece(self, token: int, *, special: bool = False) -> bytes:
        buf = self._piece_buf
        n = self.L.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, special)
        if n < 0:
            self._piece_buf = buf = ctypes.create_string_buffer(-n + 16)
            n = self.L.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, special)
        return buf.raw[:n]

    def token_text(self, token: int) -> str:
        return self.piece(token, special=True).decode("utf-8", errors="replace")

    @property
    def cached_tokens(self) -> int:
        return len(self._cached)

    @property
    def cache_pos_min(self) -> int:
        """Oldest position still in the cache (above 0 once a sliding-window cache has dropped some)."""
        self._require()
        return int(self.L.llama_memory_seq_pos_min(self.L.llama_get_memory(self._ctx), _SEQ))

    def reset_cache(self) -> None:
        """Forgets the KV cache: the next prompt is evaluated in full."""
        self._require()
        self.L.llama_memory_clear(self.L.llama_get_memory(self._ctx), True)
        self._cached = []

    # ------------------------------------------------------------------ sampling

    def _sampler(self, s: Sampling) -> Any:
        L = self.L
        params = L.llama_sampler_chain_default_params()
        params.no_perf = True
        chain = L.llama_sampler_chain_init(params)
        penalties = s.repeat_penalty != 1.0 or s.frequency_penalty != 0.0 or s.presence_penalty != 0.0
        if s.temperature <= 0:
            if penalties:
                L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_k(max(s.top_k, 1) if s.top_k else 40))
                L.llama_sampler_chain_add(chain, self._penalties(s))
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_greedy())
            return chain
        # top-k first: the penalty sampler is slow over a full 262k vocabulary.
        if s.top_k > 0:
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_k(s.top_k))
        if penalties:
            L.llama_sampler_chain_add(chain, self._penalties(s))
        if 0.0 < s.top_p < 1.0:
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_top_p(s.top_p, 1))
        if s.min_p > 0.0:
            L.llama_sampler_chain_add(chain, L.llama_sampler_init_min_p(s.min_p, 1))
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_temp(s.temperature))
        seed = L.LLAMA_DEFAULT_SEED if s.seed is None else s.seed & 0xFFFFFFFF
        L.llama_sampler_chain_add(chain, L.llama_sampler_init_dist(seed))
        return chain

    def _penalties(self, s: Sampling) -> Any:
        return self.L.llama_sampler_init_penalties(
            self.L.llama_vocab_n_tokens(self._vocab), s.repeat_last_n, s.repeat_penalty,
            s.frequency_penalty, s.presence_penalty,
        )

    # ------------------------------------------------------------------ cache and evaluation

    def _reuse_cache(self, tokens: list[int]) -> int:
        """Drops what differs from `tokens` in the KV cache; returns how many cached tokens are kept."""
        L = self.L
        mem = L.llama_get_memory(self._ctx)
        keep = common_prefix(self._cached, tokens)
        if keep == len(tokens):
            keep -= 1  # the last prompt token is evaluated again: its logits give the first token
        info, settings = self.info, self.settings
        if keep > 0 and info is not None and info.n_swa > 0 and settings is not None and not settings.swa_full:
            # A sliding-window cache forgets old positions; the next token at `keep` attends back n_swa
            # positions, which must still be there (read before removal: removal can empty the SWA part).
            pos_min = L.llama_memory_seq_pos_min(mem, _SEQ)
            if pos_min > max(0, keep - info.n_swa):
                log.debug("SWA window lost (pos_min %d, keep %d): full evaluation", pos_min, keep)
                keep = 0
        if keep < len(self._cached) and (keep <= 0 or not L.llama_memory_seq_rm(mem, _SEQ, keep, -1)):
            keep = 0
        if keep == 0:
            L.llama_memory_clear(mem, True)
        del self._cached[keep:]
        return keep

    def _evaluate(self, tokens: list[int], start: int) -> bool:
        """Evaluates tokens[start:]; False if stopped. Logits are requested for the last token only."""
        L, batch, ctx = self.L, self._batch, self._ctx
        L.llama_set_abort_callback(ctx, self._abort_cb, None)
        try:
            total = len(tokens)
            pos = start
            while pos < total:
                if self.stop_event.is_set():
                    return False
                n = min(self._n_batch, total - pos)
                for i in range(n):
                    batch.token[i] = tokens[pos + i]
                    batch.pos[i] = pos + i
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = _SEQ
                    batch.logits[i] = 0
                if pos + n == total:
                    batch.logits[n - 1] = 1
                batch.n_tokens = n
                rc = L.llama_decode(ctx, batch)
                if rc == 2 or (rc != 0 and self.stop_event.is_set()):
                    self._sync_after_abort(tokens)
                    return False
                if rc == 1:
                    raise ContextFullError("The context is full")
                if rc != 0:
                    raise EngineError(f"llama_decode failed ({rc}): {self._why()}")
                self._cached.extend(tokens[pos : pos + n])
                pos += n
            return True
        finally:
            L.llama_set_abort_callback(ctx, self._no_abort_cb, None)

    def _sync_after_abort(self, tokens: list[int]) -> None:
        # An aborted decode keeps the micro-batches it finished; keep our token list equal to the cache.
        mem = self.L.llama_get_memory(self._ctx)
        pos_max = self.L.llama_memory_seq_pos_max(mem, _SEQ)
        self._cached = list(tokens[: pos_max + 1])

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        tokens: list[int],
        sampling: Sampling,
        on_text: Callable[[str], None] | None = None,
        media: Any = None,
    ) -> Generation:
        """Evaluates the prompt (reusing the cache) and samples until EOG, max tokens, a stop string,
        a full context or `stop_event`. `on_text` receives displayable text as it is decided."""
        self._require()
        L, ctx, vocab, batch = self.L, self._ctx, self._vocab, self._batch
        n_ctx = L.llama_n_ctx(ctx)
        if not tokens:
            raise EngineError("The prompt is empty")
        if len(tokens) >= n_ctx:
            raise ContextFullError(f"The prompt ({len(tokens)} tokens) does not fit the context ({n_ctx})")
        started = time.perf_counter()
        keep = self._reuse_cache(tokens)
        evaluated = len(tokens) - keep
        # a prompt with images (app.chat.mtmd.MediaPrompt, whose units are `tokens`) evaluates them through mtmd
        evaluated_ok = (self._evaluate(tokens, keep) if media is None
                        else self._projector.evaluate(self, media, keep, _SEQ))
        if not evaluated_ok:
            now = time.perf_counter()
            stats = Stats(len(tokens), evaluated, now - started, 0, 0.0, 0.0, len(self._cached), n_ctx)
            return Generation("", "stopped", stats, ())
        prompt_done = time.perf_counter()

        # A grammar (JSON output, a forced tool call) samples through its own checker (app.chat.constrained).
        constrained = ConstrainedSampler(L, vocab, sampling.grammar) if sampling.grammar else None
        chain = self._sampler(sampling)
        utf8 = Utf8Stream()
        stops = StopMatcher(sampling.stop)
        parts: list[str] = []
        generated: list[int] = []
        reason: FinishReason = "length"
        first_at = 0.0
        stop_flag = self.stop_event
        sample, is_eog, decode = L.llama_sampler_sample, L.llama_vocab_is_eog, L.llama_decode
        special = sampling.special_text

        def piece(token: int) -> bytes:
            return self.piece(token, special=special)

        n_past = len(self._cached)
        try:
            while True:
                if stop_flag.is_set():
                    reason = "stopped"
                    break
                token = sample(chain, ctx, -1) if constrained is None else constrained.sample(chain, ctx)
                if not first_at:
                    first_at = time.perf_counter()
                if is_eog(vocab, token):
                    reason = "eog"
                    break
                generated.append(token)
                text = stops.feed(utf8.feed(piece(token)))
                if text:
                    parts.append(text)
                    if on_text is not None:
                        on_text(text)
                if stops.hit is not None:
                    reason = "stop_string"
                    break
                if len(generated) >= sampling.max_tokens:
                    reason = "length"
                    break
                if n_past >= n_ctx:
                    reason = "context_full"
                    break
                batch.token[0] = token
                batch.pos[0] = n_past
                batch.n_seq_id[0] = 1
                batch.seq_id[0][0] = _SEQ
                batch.logits[0] = 1
                batch.n_tokens = 1
                rc = decode(ctx, batch)
                if rc != 0:
                    if rc == 1:
                        reason = "context_full"
                        break
                    raise EngineError(f"llama_decode failed ({rc}): {self._why()}")
                self._cached.append(token)
                n_past += 1
        finally:
            L.llama_sampler_free(chain)
            if constrained is not None:
                constrained.free()
        if reason != "stop_string":
            tail = stops.feed(utf8.flush()) + stops.flush()
            if tail:
                parts.append(tail)
                if on_text is not None:
                    on_text(tail)
        ended = time.perf_counter()
        stats = Stats(
            prompt_tokens=len(tokens),
            prompt_evaluated=evaluated,
            prompt_seconds=prompt_done - started,
            generated_tokens=len(generated) + (1 if reason == "eog" else 0),
            generation_seconds=(ended - first_at) if first_at else 0.0,
            ttft_seconds=(first_at - started) if first_at else 0.0,
            context_used=len(self._cached),
            context_size=n_ctx,
            media_tokens=media.media_tokens if media is not None else 0,
        )
        return Generation("".join(parts), reason, stats, tuple(generated))

    # ------------------------------------------------------------------ embeddings

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """One L2-normalised pooled vector per text, and the tokens evaluated (the cache holds none after)."""
        self._require()
        L, ctx = self.L, self._ctx
        if self.settings is None or not self.settings.embeddings:
            raise EngineError("The model is loaded for chat, not for embeddings")
        if L.llama_pooling_type(ctx) == _POOLING_NONE:
            raise EngineError("The model pools no embeddings (its pooling type is none)",
                              hint="load it with a pooling type: mean, cls or last")
        n_embd = L.llama_model_n_embd(self._model)
        n_ctx = L.llama_n_ctx(ctx)
        mem = L.llama_get_memory(ctx)
        vectors: list[list[float]] = []
        total = 0
        for text in texts:
            tokens = self.tokenize(text, add_special=True)
            if not tokens:
                raise EngineError("An input to embed is empty")
            if len(tokens) > n_ctx:
                raise ContextFullError(f"An input of {len(tokens)} tokens is longer than the context ({n_ctx})")
            if mem:
                L.llama_memory_clear(mem, True)
            self._cached = []
            batch = L.llama_batch_init(len(tokens), 0, 1)
            try:
                for i, token in enumerate(tokens):
                    batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
                    batch.seq_id[i][0], batch.logits[i] = _SEQ, 1
                batch.n_tokens = len(tokens)
                rc = L.llama_decode(ctx, batch)
                if rc != 0:
                    raise EngineError(f"llama_decode failed ({rc}) while embedding: {self._why()}")
                pooled = L.llama_get_embeddings_seq(ctx, _SEQ)
                if not pooled:
                    raise EngineError(f"llama.cpp returned no pooled embedding: {self._why()}")
                vector = [float(pooled[i]) for i in range(n_embd)]
            finally:
                L.llama_batch_free(batch)
            norm = sum(v * v for v in vector) ** 0.5
            vectors.append([v / norm for v in vector] if norm > 0 else vector)
            total += len(tokens)
        return vectors, total

    def close(self) -> None:
        self.unload()


__all__ = ["AppError", "Cancelled", "ContextFullError", "Engine", "Generation", "default_threads"]
