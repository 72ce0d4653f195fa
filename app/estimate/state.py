"""Recurrent state and extra caches in bytes, per layer and device, by the rules of the pinned llama.cpp.

The recurrent state (llama-memory-recurrent.cpp, the constructor): each recurrent layer holds two f32
tensors, R (`n_embd_r` values per row) and S (`n_embd_s` values per row), with `max(1, n_seq_max)` rows —
one per sequence, whatever the context length (llama-model.cpp create_memory's `mem_size`; llama-cpp-python
leaves `n_rs_seq`, the rollback snapshots, at 0). The indexer cache of sparse-attention models is a second
llama_kv_cache (llama-kv-cache-dsa.cpp, -msa.cpp, llama-memory-hybrid-idx.cpp): as many cells as the
attention cache, one key head per cell in the K cache type and, without MLA, one value head in the V type.
Both live on the device of their layer when `offload_kqv` is on, in host memory otherwise. Which layers
have them and how wide a row is comes from layout.py.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from app.estimate.kv import CELL_PAD, context_sizes, pad, placement_free
from app.estimate.layout import DSV4_CSA, DSV4_HCA, INDEXER_KEYS_ONLY
from app.estimate.model import ModelShape
from app.estimate.placement import Placement
from app.estimate.settings import LoadSettings, row_bytes

F32 = 4


@dataclass(frozen=True, slots=True)
class StateLayer:
    layer: int
    r_bytes: int
    s_bytes: int
    idx_bytes: int  # indexer cache of this layer (keys and, without MLA, values)
    idx_v_bytes: int = 0  # of which values
    comp_bytes: int = 0  # DeepSeek-V4's compressed caches and compressor states of this layer
    p_bytes: int = 0  # Qwen4-Exp's PLE convolution history (a third recurrent tensor)


@dataclass(frozen=True, slots=True)
class CompressedPart:
    """One of DeepSeek-V4's compressed caches (`cells` > 0, K only, in the K cache type) or compressor
    states (`cells` 0, f32), as llama.cpp logs it: its name, cells per stream, layers and bytes."""

    name: str
    cells: int
    layers: tuple[int, ...]
    n_bytes: int


@dataclass(frozen=True, slots=True)
class StateSizes:
    """Per-layer recurrent state and indexer cache bytes; `gpu_suffix[i]` is the bytes of layers i…"""

    layers: tuple[StateLayer, ...]
    rows: int  # state rows per layer (one per sequence)
    r_bytes: int
    s_bytes: int
    idx_bytes: int
    idx_v_bytes: int
    gpu_suffix: tuple[int, ...]
    p_bytes: int = 0
    compressed: tuple[CompressedPart, ...] = ()

    @property
    def comp_bytes(self) -> int:
        return sum(x.n_bytes for x in self.compressed)


@functools.lru_cache(maxsize=512)
def state_sizes(model: ModelShape, settings: LoadSettings) -> StateSizes:
    """Sizes for `settings` (placement-free)."""
    rows = max(1, settings.n_seq_max)
    sizes = context_sizes(model, settings)
    idx_rows = sizes.n_ctx_seq * sizes.n_stream
    layers = []
    per_layer = [0] * (model.n_layer + 1)
    compressed = compressed_parts(model, settings) if model.compress_ratios else ()
    comp = [0] * model.n_layer
    for part in compressed:
        for il in part.layers:
            comp[il] += part.n_bytes // len(part.layers)
    for il in range(model.n_layer):
        recurrent = bool(model.rs_layers) and model.rs_layers[il]
        r = model.n_embd_r * rows * F32 if recurrent else 0
        s = model.n_embd_s * rows * F32 if recurrent else 0
        p = model.n_embd_p * rows * F32 if model.p_layers and model.p_layers[il] else 0
        width = model.indexer_k[il] if model.indexer_k else 0
        idx_k = row_bytes(settings.type_k, width) * idx_rows if width else 0
        # without MLA the indexer cache keeps one value head per cell beside the key (not hybrid_idx's)
        values = width and not model.mla and model.arch not in INDEXER_KEYS_ONLY
        idx_v = row_bytes(settings.type_v, model.head_v) * idx_rows if values else 0
        if r or s or idx_k or comp[il] or p:
            layers.append(StateLayer(il, r, s, idx_k + idx_v, idx_v, comp[il], p))
            per_layer[il] = r + s + idx_k + idx_v + comp[il] + p
    return StateSizes(
        layers=tuple(layers),
        rows=rows,
        r_bytes=sum(x.r_bytes for x in layers),
        s_bytes=sum(x.s_bytes for x in layers),
        idx_bytes=sum(x.idx_bytes for x in layers),
        idx_v_bytes=sum(x.idx_v_bytes for x in layers),
        gpu_suffix=tuple(itertools.accumulate(reversed(per_layer)))[::-1],
        p_bytes=sum(x.p_bytes for x in layers),
        compressed=compressed,
    )


def compressed_parts(model: ModelShape, settings: LoadSettings) -> tuple[CompressedPart, ...]:
    """DeepSeek-V4's caches beside its raw one (llama-kv-cache-dsv4.cpp, the llama_kv_cache_dsv4
    constructor), in the order llama.cpp creates them:

    * CSA and HCA caches: compressed K of the layers with ratio 4 and 128, one head of `key_length`
      values per cell; the lightning-indexer cache: one `indexer.key_length` key per cell on the CSA
      layers. Each has ceil(cells / ratio) cells rounded up to 256 (at least one), in one stream per
      sequence whatever `kv_unified` says, in the K cache type and without V.
    * Compressor states (llama_dsv4_comp_state): per layer two f32 tensors (pending values and their
      scores) of `2 × ratio` rows of `2 × key_length` (CSA), `ratio` rows of `key_length` (HCA) or
      `2 × ratio` rows of `2 × indexer.key_length` (indexer), one plane per sequence, on the trunk layers.
    """
    sizes = context_sizes(model, settings)
    streams = settings.n_seq_max  # the compressed caches are never unified
    ratios = model.compress_ratios

    def on(ratio: int, trunk: bool = False) -> tuple[int, ...]:
        last = model.compress_trunk if trunk else model.n_layer
        return tuple(il for il in range(last) if ratios[il] == ratio)

    def cache(name: str, ratio: int, width_of: Callable[[int], int]) -> CompressedPart:
        cells = pad(max(1, -(-sizes.n_ctx_seq // ratio)), CELL_PAD)
        layers = on(ratio)
        n_bytes = sum(row_bytes(settings.type_k, width_of(il)) * cells * streams for il in layers)
        return CompressedPart(name, cells, layers, n_bytes)

    def state(name: str, ratio: int, rows: int, width: int) -> CompressedPart:
        layers = on(ratio, trunk=True)
        return CompressedPart(name, 0, layers, 2 * rows * width * streams * F32 * len(layers))

    head = model.head_k
    return (
        cache("csa", DSV4_CSA, model.k_width),
        cache("hca", DSV4_HCA, model.k_width),
        cache("lid", DSV4_CSA, lambda il: model.compress_indexer),
        state("csa state", DSV4_CSA, 2 * DSV4_CSA, 2 * head),
        state("hca state", DSV4_HCA, DSV4_HCA, head),
        state("lid state", DSV4_CSA, 2 * DSV4_CSA, 2 * model.compress_indexer),
    )


@dataclass(frozen=True, slots=True)
class StateCache:
    """The recurrent state and extra caches of a loaded model, placed like its layers."""

    sizes: StateSizes
    placement: Placement
    offload: bool

    @property
    def total_bytes(self) -> int:
        return self.recurrent_bytes + self.sizes.idx_bytes + self.sizes.comp_bytes

    @property
    def recurrent_bytes(self) -> int:
        return self.sizes.r_bytes + self.sizes.s_bytes + self.sizes.p_bytes

    def bytes_on(self, gpu: bool) -> int:
        on_gpu = 0
        if self.offload and self.placement.n_gpu_layers:
            on_gpu = self.sizes.gpu_suffix[min(self.placement.first_gpu_layer, self.placement.n_layer)]
        return on_gpu if gpu else self.total_bytes - on_gpu

    def recurrent_on(self, gpu: bool) -> int:
        """Recurrent-state bytes on the GPU (or host): the indexer cache is left out."""
        return sum(
            x.r_bytes + x.s_bytes + x.p_bytes
            for x in self.sizes.layers
            if (self.offload and self.placement.layer_on_gpu(x.layer)) == gpu
        )


def state_cache(model: ModelShape, settings: LoadSettings, placement: Placement) -> StateCache:
    return StateCache(state_sizes(model, placement_free(settings)), placement, settings.offload_kqv)
