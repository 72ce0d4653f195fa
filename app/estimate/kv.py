"""KV cache size, layer by layer, by the rules of the pinned llama.cpp (llama-context.cpp,
llama-kv-cache.cpp, llama-kv-cache-iswa.cpp, llama-model.cpp create_memory).

The rules, in our words:

* Context size: `n_ctx` (0 = the trained context) is rounded up to a multiple of 256.
  With one shared ("unified") cache every sequence draws from all `n_ctx` cells; otherwise each of
  the `n_seq_max` sequences gets its own stream of `n_ctx / n_seq_max` cells, rounded up to 256 again.
* Batch sizes: `n_batch` is capped at the requested `n_ctx` (before rounding), `n_ubatch` at `n_batch`.
* A layer's K cache holds, per cell, `key head size × KV heads` values of the K type; the V cache
  `value head size × KV heads` of the V type. Head sizes and KV head counts are per layer
  (per-layer head-count arrays; sliding-window layers may have their own head sizes).
* A row of a block-quantized type takes `values / block × bytes per block`; a row that is not a
  whole number of blocks cannot be used.
* Without flash attention V is stored transposed, and then every layer's V row is padded to the
  widest V row of the model.
* MLA (DeepSeek-2 style GGUFs that carry the MLA key/value lengths): the cache keeps one compressed
  latent plus the rope part per cell (`key_length` × 1 KV head) and no V cache at all.
* Models with sliding-window layers get two caches: the full one for the global-attention layers,
  and for the sliding-window layers `min(n_ctx, window × (n_seq_max if unified else 1) + n_ubatch)`
  cells rounded up to 256 — the rounding can exceed a small `n_ctx`. With `swa_full` the
  sliding-window layers get as many cells as the full cache.
* Layers without their own cache (KV reuse, multi-token-prediction heads) take nothing.

Cache types (llama_init_from_model): a quantized V cache needs flash attention ("auto" then turns it
on; Grok and PLM models never use it, app.estimate.flash); with flash attention a block-quantized K (V)
cache needs every layer's key (value) head size to be a whole number of blocks; MLA models need the same
K and V type. An indexer's keys (sparse attention) are cached in the K type: they must be whole blocks too.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, replace

from app.core.errors import EstimateError
from app.estimate.flash import usable_flash_attn
from app.estimate.model import ModelShape
from app.estimate.placement import Placement
from app.estimate.settings import FlashAttn, LoadSettings, block_size, is_quantized_kv, row_bytes

CELL_PAD = 256


def pad(value: int, multiple: int) -> int:
    return (value + multiple - 1) // multiple * multiple


@dataclass(frozen=True, slots=True)
class ContextSizes:
    """The sizes llama.cpp's context derives from the requested settings."""

    n_ctx: int
    n_ctx_seq: int
    n_stream: int
    n_batch: int
    n_ubatch: int
    n_outputs_max: int


def context_sizes(model: ModelShape, settings: LoadSettings) -> ContextSizes:
    requested = settings.n_ctx or model.n_ctx_train
    n_batch = min(requested, settings.n_batch)
    n_ubatch = min(n_batch, settings.n_ubatch)
    n_ctx = pad(requested, CELL_PAD)
    if settings.kv_unified:
        n_ctx_seq, n_stream = n_ctx, 1
    else:
        n_ctx_seq = pad(n_ctx // settings.n_seq_max, CELL_PAD)
        n_stream = settings.n_seq_max
        n_ctx = n_ctx_seq * settings.n_seq_max
    n_outputs_max = settings.n_outputs_max or n_batch
    return ContextSizes(n_ctx, n_ctx_seq, n_stream, n_batch, n_ubatch, n_outputs_max)


@dataclass(frozen=True, slots=True)
class KvLayer:
    layer: int
    on_gpu: bool
    swa: bool
    cells: int
    k_bytes: int
    v_bytes: int

    @property
    def bytes(self) -> int:
        return self.k_bytes + self.v_bytes


@dataclass(frozen=True, slots=True)
class KvSizes:
    """Per-layer cache sizes, which do not depend on where the layers are placed. `gpu_suffix[i]` is
    the bytes of layers i… (what lands on the GPU when offloading starts at layer i)."""

    layers: tuple[KvLayer, ...]  # with on_gpu False
    cells_full: int
    cells_swa: int
    k_bytes: int
    v_bytes: int
    gpu_suffix: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class KvCache:
    sizes: KvSizes
    placement: Placement
    offload: bool

    @property
    def cells_full(self) -> int:
        return self.sizes.cells_full

    @property
    def cells_swa(self) -> int:
        """0 when the model has no sliding-window layers."""
        return self.sizes.cells_swa

    @property
    def layers(self) -> tuple[KvLayer, ...]:
        on_gpu = self.placement.layer_on_gpu
        return tuple(replace(layer, on_gpu=self.offload and on_gpu(layer.layer)) for layer in self.sizes.layers)

    @property
    def k_bytes(self) -> int:
        return self.sizes.k_bytes

    @property
    def v_bytes(self) -> int:
        return self.sizes.v_bytes

    @property
    def total_bytes(self) -> int:
        return self.sizes.k_bytes + self.sizes.v_bytes

    def bytes_on(self, gpu: bool) -> int:
        on_gpu = 0
        if self.offload and self.placement.n_gpu_layers:
            on_gpu = self.sizes.gpu_suffix[min(self.placement.first_gpu_layer, self.placement.n_layer)]
        return on_gpu if gpu else self.total_bytes - on_gpu

    def part(self, swa: bool) -> tuple[KvLayer, ...]:
        """The layers of one of the two caches (sliding-window or full), as llama.cpp logs them."""
        return tuple(layer for layer in self.layers if layer.swa == swa)


def swa_cells(model: ModelShape, settings: LoadSettings, sizes: ContextSizes) -> int:
    if settings.swa_full:
        return sizes.n_ctx_seq
    window = model.n_swa * (settings.n_seq_max if settings.kv_unified else 1)
    return pad(min(sizes.n_ctx_seq, window + sizes.n_ubatch), CELL_PAD)


def flash_attn_enabled(model: ModelShape, settings: LoadSettings) -> bool:
    """Whether the KV cache is laid out for flash attention ("auto" counts as on, as in llama.cpp; off for
    the architectures llama.cpp and our engine run without it, app.estimate.flash)."""
    return usable_flash_attn(model.arch, settings.flash_attn) is not FlashAttn.OFF


def check_cache_types(model: ModelShape, settings: LoadSettings) -> None:
    """Refuse the cache types llama.cpp refuses for this model, with the reason."""
    flash = flash_attn_enabled(model, settings)
    if is_quantized_kv(settings.type_v) and not flash:
        raise EstimateError(
            f"a quantized V cache ({settings.type_v}) needs flash attention, which {model.arch} models cannot use",
            hint="use an f16 V cache",
        )
    if model.mla and settings.type_k != settings.type_v:
        raise EstimateError(f"{model.arch} models with MLA need the same K and V cache type")
    _check_indexer_keys(model, settings.type_k)
    if not flash:
        return
    for label, type_name, index in (("key", settings.type_k, 0), ("value", settings.type_v, 1)):
        if not is_quantized_kv(type_name):
            continue
        block = block_size(type_name)
        for il in range(model.n_layer):
            head = model.head_sizes(il)[index]
            if model.kv_layers[il] and head % block:
                raise EstimateError(
                    f"a {type_name} cache needs {label} heads of a multiple of {block} values; this model's are {head}",
                    hint="choose f16 for this model",
                )


def _check_indexer_keys(model: ModelShape, type_k: str) -> None:
    """A sparse-attention indexer caches its keys in the K type, with or without flash attention, and
    llama_init_from_model does not check them: a key of a partial block makes ggml abort the process."""
    if not model.indexer_k or not is_quantized_kv(type_k):
        return
    block = block_size(type_k)
    odd = next((width for width in model.indexer_k if width % block), 0)
    if odd:
        raise EstimateError(
            f"a {type_k} K cache needs indexer keys of a multiple of {block} values; this model's are {odd}",
            hint="choose an f16 K cache for this model",
        )


@functools.lru_cache(maxsize=512)
def kv_sizes(model: ModelShape, settings: LoadSettings) -> KvSizes:
    """The cache sizes for `settings` (whose n_gpu_layers does not matter here)."""
    check_cache_types(model, settings)
    sizes = context_sizes(model, settings)
    split = model.has_swa
    n_stream = sizes.n_stream
    if model.compress_ratios:  # DeepSeek-V4 keeps its raw cache per sequence even when asked to unify it
        n_stream, settings = settings.n_seq_max, replace(settings, kv_unified=False)
    cells_swa = swa_cells(model, settings, sizes) if split else 0
    v_transposed = not flash_attn_enabled(model, settings)
    v_width_max = max(model.v_width(il) for il in range(model.n_layer))
    layers = []
    per_layer = [0] * (model.n_layer + 1)
    for il in range(model.n_layer):
        if not model.kv_layers[il]:
            continue
        is_swa = split and model.swa_layers[il]
        cells = cells_swa if is_swa else sizes.n_ctx_seq
        rows = cells * n_stream
        k_bytes = row_bytes(settings.type_k, model.k_width(il)) * rows
        v_bytes = 0
        if not model.mla:
            width = v_width_max if v_transposed else model.v_width(il)
            v_bytes = row_bytes(settings.type_v, width) * rows
        layers.append(KvLayer(il, False, is_swa, cells, k_bytes, v_bytes))
        per_layer[il] = k_bytes + v_bytes
    suffix = list(itertools.accumulate(reversed(per_layer)))[::-1]
    return KvSizes(
        layers=tuple(layers),
        cells_full=sizes.n_ctx_seq,
        cells_swa=cells_swa,
        k_bytes=sum(layer.k_bytes for layer in layers),
        v_bytes=sum(layer.v_bytes for layer in layers),
        gpu_suffix=tuple(suffix),
    )


def placement_free(settings: LoadSettings) -> LoadSettings:
    """`settings` with n_gpu_layers fixed, as a cache key for what does not depend on placement."""
    return replace(settings, n_gpu_layers=0, n_cpu_moe=0) if settings.n_gpu_layers or settings.n_cpu_moe else settings


def kv_cache(model: ModelShape, settings: LoadSettings, placement: Placement) -> KvCache:
    return KvCache(kv_sizes(model, placement_free(settings)), placement, settings.offload_kqv)
