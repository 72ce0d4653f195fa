"""The load settings the app's engine really gives llama.cpp: the one mapping from the Chat page's
`EngineSettings` to the memory model's `LoadSettings`.

The engine (app/chat/engine_core.py) builds its llama.cpp context from `engine_load_settings` too, so
what Discover, `files`, `estimate`, the Chat load panel and the Quantize page show is what the engine
allocates: one sequence, one output row per ubatch (`n_outputs_max = 1`: only the last token's logits
are read), `n_ubatch = n_batch`, no unified cache, the KV cache beside its layer (`offload_kqv`).
Threads do not change any buffer llama.cpp allocates; they and the default context come from the
settings store (app/core/settings.py) through `engine_settings`.

`llama_server_load_settings` is the other front-end people run: llama-server of the pinned llama.cpp
(common_params and tools/server): n_batch 2048, n_ubatch 512, logits rows up to n_batch, and with the
default `--parallel` (auto) four slots sharing one unified cache.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from app.chat.protocol import EngineSettings
from app.core.errors import EstimateError
from app.core.settings import Preferences
from app.estimate.settings import LoadSettings, parse_flash_attn

log = logging.getLogger("app.estimate")

OUTPUTS_MAX = 1  # logits rows one ubatch may produce in the engine
ENGINE_SEQUENCES = 1
SERVER_SLOTS = 4  # llama-server's --parallel auto
SERVER_BATCH, SERVER_UBATCH = 2048, 512


def engine_load_settings(settings: EngineSettings) -> LoadSettings:
    """What the engine passes to llama.cpp for `settings`, as the memory model's input."""
    parallel = max(ENGINE_SEQUENCES, settings.n_parallel)
    return LoadSettings(
        n_gpu_layers=settings.n_gpu_layers,
        type_k=settings.type_k,
        type_v=settings.type_v,
        flash_attn=parse_flash_attn(settings.flash_attn),
        n_batch=settings.n_batch,
        n_ubatch=settings.n_batch,
        swa_full=settings.swa_full,
        mmap=settings.use_mmap,
        # n_parallel sequences of n_ctx cells each, every one in a cache stream of its own as llama-server
        # with an explicit --parallel N makes them (a unified cache would have each prompt attend over the
        # cells every other sequence keeps for prefix reuse); one decode may produce a logits row for each
        n_ctx=settings.n_ctx * parallel,
        n_seq_max=parallel,
        kv_unified=False,
        offload_kqv=True,
        n_outputs_max=OUTPUTS_MAX * parallel,
        n_cpu_moe=settings.n_cpu_moe,
        repack=settings.repack,
    )


def refused_cache_types(path: str, settings: EngineSettings) -> EstimateError | None:
    """Why llama.cpp would refuse this model's K/V cache types with `settings`, or abort the process on them
    (an indexer key of partial blocks, app.estimate.kv), before the engine asks it; None when they can work or
    the header cannot tell (llama.cpp then decides)."""
    from app.estimate.kv import check_cache_types
    from app.estimate.shape import shape_from_header
    from app.gguf import read_model

    try:
        shape = shape_from_header(read_model(path))
    except Exception as exc:  # only a pre-flight: a header the memory model cannot describe is llama.cpp's to judge
        log.debug("no cache-type check for %s: %s", path, exc)
        return None
    try:
        check_cache_types(shape, engine_load_settings(settings))
    except EstimateError as exc:
        return exc
    return None


def cpu_moe_pattern(n_cpu_moe: int) -> str | None:
    """The tensor-name pattern the engine overrides to the CPU buffer type for --n-cpu-moe N: the expert
    tensors of layers 0 … N-1 (llama.cpp's common.h adds one such pattern per layer; one alternation is
    the same set). An ECMAScript regex searched in the full name, as llama-model-loader applies it; the
    estimate counts the same tensors (app.estimate.model.EXPERT_TENSOR)."""
    if n_cpu_moe <= 0:
        return None
    layers = "|".join(str(il) for il in range(n_cpu_moe))
    return rf"blk\.(?:{layers})\.ffn_(up|down|gate|gate_up)_(ch|)exps"


def llama_server_load_settings(settings: EngineSettings) -> LoadSettings:
    """The same model, context, cache types and layers as llama-server of the pinned llama.cpp loads them."""
    return replace(
        engine_load_settings(settings),
        n_batch=SERVER_BATCH,
        n_ubatch=SERVER_UBATCH,
        n_seq_max=SERVER_SLOTS,
        kv_unified=True,
        n_outputs_max=0,
    )


def engine_settings(preferences: Preferences | None = None, **changes: Any) -> EngineSettings:
    """The engine's settings with the threads and default context of the settings store, then `changes`."""
    prefs = preferences or Preferences()
    base = EngineSettings(n_ctx=prefs.default_context, n_threads=prefs.threads)
    return replace(base, **changes)


def stored_preferences() -> Preferences:
    """The user's saved preferences (defaults when there are none), for the commands."""
    from app.core.settings import Settings

    return Settings().values
