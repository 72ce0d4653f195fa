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
"""

from __future__ import annotations

from dataclasses import dataclass

from app.estimate.model import ModelShape
from app.estimate.placement import Placement
from app.estimate.settings import FlashAttn, LoadSettings, row_bytes

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
class KvCache:
    layers: tuple[KvLayer, ...]
    cells_full: int
    cells_swa: int  # 0 when the model has no sliding-window layers

    @property
    def k_bytes(self) -> int:
        return sum(layer.k_bytes for layer in self.layers)

    @property
    def v_bytes(self) -> int:
        return sum(layer.v_bytes for layer in self.layers)

    @property
    def total_bytes(self) -> int:
        return self.k_bytes + self.v_bytes

    def bytes_on(self, gpu: bool) -> int:
        return sum(layer.bytes for layer in self.layers if layer.on_gpu == gpu)

    def part(self, swa: bool) -> tuple[KvLayer, ...]:
        """The layers of one of the two caches (sliding-window or full), as llama.cpp logs them."""
        return tuple(layer for layer in self.layers if layer.swa == swa)


def swa_cells(model: ModelShape, settings: LoadSettings, sizes: ContextSizes) -> int:
    if settings.swa_full:
        return sizes.n_ctx_seq
    window = model.n_swa * (settings.n_seq_max if settings.kv_unified else 1)
    return pad(min(sizes.n_ctx_seq, window + sizes.n_ubatch), CELL_PAD)


def kv_cache(model: ModelShape, settings: LoadSettings, placement: Placement) -> KvCache:
    sizes = context_sizes(model, settings)
    split = model.has_swa
    cells_swa = swa_cells(model, settings, sizes) if split else 0
    v_transposed = settings.flash_attn is FlashAttn.OFF
    v_width_max = max(model.v_width(il) for il in range(model.n_layer))
    layers = []
    for il in range(model.n_layer):
        if not model.kv_layers[il]:
            continue
        is_swa = split and model.swa_layers[il]
        cells = cells_swa if is_swa else sizes.n_ctx_seq
        rows = cells * sizes.n_stream
        k_bytes = row_bytes(settings.type_k, model.k_width(il)) * rows
        v_bytes = 0
        if not model.mla:
            width = v_width_max if v_transposed else model.v_width(il)
            v_bytes = row_bytes(settings.type_v, width) * rows
        on_gpu = settings.offload_kqv and placement.layer_on_gpu(il)
        layers.append(KvLayer(il, on_gpu, is_swa, cells, k_bytes, v_bytes))
    return KvCache(tuple(layers), sizes.n_ctx_seq, cells_swa)
