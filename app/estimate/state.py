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
from dataclasses import dataclass

from app.estimate.kv import context_sizes, placement_free
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


@functools.lru_cache(maxsize=512)
def state_sizes(model: ModelShape, settings: LoadSettings) -> StateSizes:
    """Sizes for `settings` (placement-free)."""
    rows = max(1, settings.n_seq_max)
    sizes = context_sizes(model, settings)
    idx_rows = sizes.n_ctx_seq * sizes.n_stream
    layers = []
    per_layer = [0] * (model.n_layer + 1)
    for il in range(model.n_layer):
        recurrent = bool(model.rs_layers) and model.rs_layers[il]
        r = model.n_embd_r * rows * F32 if recurrent else 0
        s = model.n_embd_s * rows * F32 if recurrent else 0
        width = model.indexer_k[il] if model.indexer_k else 0
        idx_k = row_bytes(settings.type_k, width) * idx_rows if width else 0
        # without MLA the indexer cache keeps one value head per cell beside the key
        idx_v = row_bytes(settings.type_v, model.head_v) * idx_rows if width and not model.mla else 0
        if r or s or idx_k:
            layers.append(StateLayer(il, r, s, idx_k + idx_v, idx_v))
            per_layer[il] = r + s + idx_k + idx_v
    return StateSizes(
        layers=tuple(layers),
        rows=rows,
        r_bytes=sum(x.r_bytes for x in layers),
        s_bytes=sum(x.s_bytes for x in layers),
        idx_bytes=sum(x.idx_bytes for x in layers),
        idx_v_bytes=sum(x.idx_v_bytes for x in layers),
        gpu_suffix=tuple(itertools.accumulate(reversed(per_layer)))[::-1],
    )


@dataclass(frozen=True, slots=True)
class StateCache:
    """The recurrent state and extra caches of a loaded model, placed like its layers."""

    sizes: StateSizes
    placement: Placement
    offload: bool

    @property
    def total_bytes(self) -> int:
        return self.sizes.r_bytes + self.sizes.s_bytes + self.sizes.idx_bytes

    @property
    def recurrent_bytes(self) -> int:
        return self.sizes.r_bytes + self.sizes.s_bytes

    def bytes_on(self, gpu: bool) -> int:
        on_gpu = 0
        if self.offload and self.placement.n_gpu_layers:
            on_gpu = self.sizes.gpu_suffix[min(self.placement.first_gpu_layer, self.placement.n_layer)]
        return on_gpu if gpu else self.total_bytes - on_gpu

    def recurrent_on(self, gpu: bool) -> int:
        """Recurrent-state bytes on the GPU (or host): the indexer cache is left out."""
        return sum(
            x.r_bytes + x.s_bytes
            for x in self.sizes.layers
            if (self.offload and self.placement.layer_on_gpu(x.layer)) == gpu
        )


def state_cache(model: ModelShape, settings: LoadSettings, placement: Placement) -> StateCache:
    return StateCache(state_sizes(model, placement_free(settings)), placement, settings.offload_kqv)
