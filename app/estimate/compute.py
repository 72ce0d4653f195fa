"""Output buffer (exact) and compute buffers (a documented approximation).

Output buffer — exact rule (llama-context.cpp, output_reserve): at load the context reserves room for
one row of logits per sequence, `n_vocab × n_seq_max × 4` bytes, in host memory (the GPU's pinned host
memory when the output layer is offloaded). It grows at run time only if a batch asks for more
output rows (llama-cpp-python asks for one row per evaluation unless `logits_all`).

Compute buffers — *not exact*. llama.cpp sizes them by building the worst-case graph (one ubatch of
`n_tokens = min(n_ctx, n_ubatch)` tokens against the whole KV cache, producing
`min(n_tokens, n_outputs_max)` rows of logits) and letting ggml's allocator pack its intermediate
tensors. We model the allocator's peak as the larger of the layer stages (with the attention masks, which live
while the layers run) and the output stage:

* output stage: the logits `n_vocab × n_outputs × 4` plus one hidden state `n_embd × n_tokens × 4`,
  plus the mask of the cache the first layer uses. ggml's allocator places a graph input when it is
  first needed and frees it after its last use: the first layer's mask sits at the bottom of the buffer
  and stays under the logits, while a mask first needed by a later layer (Gemma 3's full-attention
  mask, first used by layer 5) lies on top and its memory is reused for the logits — Gemma 3's compute
  buffer stays 514.5 MiB from 512 to 32768 tokens of context while that mask grows from 0.5 to 32 MiB;
* attention stage of a layer: `n_tokens × 4 × (4·n_embd + Q width + K width + V width)`, and without
  flash attention also the score matrix `n_kv × n_tokens × n_head × 4` (`n_kv` = that layer's cache cells);
* feed-forward stage of a layer: `n_tokens × 4 × (3·n_ff + min(n_ff, 4·n_embd))` — gate, up and their
  product, plus the hidden states around them (an empirical fit to the allocator's packing);
* masks: `n_kv × n_tokens` per cache (full and sliding-window), f16 with flash attention, f32 without;
* small inputs: token ids, positions, output ids (4 bytes each) and per cache the K and V row
  indices (8 bytes each), per token.

Calibrated against the pinned llama.cpp's CPU backend (reported compute buffer sizes) on generated
llama-architecture models (grouped-query attention, several widths, vocabularies, contexts, ubatch
sizes, flash attention on and off) and on Gemma 3 270M: mostly within 1%, the worst cases 2% under and
6% over (Gemma 3 with a full-size 32k sliding-window cache, whose first-layer mask is reused after all);
benchmarks/estimate_vs_llama.py prints the comparison. Note the default `n_outputs_max = n_batch`: for
Gemma's 262k vocabulary the worst-case logits alone take 512 MiB at n_ubatch 512.

The split between devices follows the layer placement: the GPU buffer holds the stages of offloaded
layers (and the output stage when the output layer is offloaded), the host buffer the stages of the
layers left on the CPU plus the embedding lookup, which always runs on the host. That split is derived
from the source, not measured (this machine has no GPU).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from app.estimate.kv import context_sizes, flash_attn_enabled, kv_sizes, placement_free
from app.estimate.model import ModelShape
from app.estimate.placement import Placement
from app.estimate.settings import LoadSettings

F32 = 4


def output_buffer_bytes(model: ModelShape, settings: LoadSettings) -> int:
    return model.n_vocab * settings.n_seq_max * F32


@dataclass(frozen=True, slots=True)
class ComputeBuffers:
    gpu: int
    cpu: int


def _attention_stage(model: ModelShape, il: int, n_tokens: int, n_kv: int, flash: bool) -> int:
    q_width = model.n_head[il] * model.head_sizes(il)[0]
    widths = 4 * model.n_embd + q_width + model.k_width(il) + model.v_width(il)
    stage = n_tokens * F32 * widths
    if not flash:
        stage += n_kv * n_tokens * model.n_head[il] * F32
    return stage


def _ffn_stage(model: ModelShape, il: int, n_tokens: int) -> int:
    n_ff = model.n_ff[il]
    return n_tokens * F32 * (3 * n_ff + min(n_ff, 4 * model.n_embd))


@dataclass(frozen=True, slots=True)
class _Stages:
    """Placement-independent peaks: `prefix[i]` is the largest layer stage among layers < i (what the
    host holds when offloading starts at layer i), `suffix[i]` among layers >= i (the GPU's part)."""

    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    output: int
    inputs: int
    embedding_lookup: int


@functools.lru_cache(maxsize=512)
def _stages(model: ModelShape, settings: LoadSettings) -> _Stages:
    sizes = context_sizes(model, settings)
    cells_swa = kv_sizes(model, settings).cells_swa
    n_tokens = min(sizes.n_ctx, sizes.n_ubatch)
    n_outputs = min(n_tokens, sizes.n_outputs_max)
    flash = flash_attn_enabled(model, settings)
    mask_type = 2 if flash else F32
    caches = [sizes.n_ctx_seq] + ([cells_swa] if model.has_swa else [])
    masks = sum(cells * n_tokens * mask_type for cells in caches)
    first_swa = model.has_swa and model.swa_layers[0]
    first_mask = (cells_swa if first_swa else sizes.n_ctx_seq) * n_tokens * mask_type

    peaks = []
    for il in range(model.n_layer):
        n_kv = cells_swa if model.has_swa and model.swa_layers[il] else sizes.n_ctx_seq
        stage = max(_attention_stage(model, il, n_tokens, n_kv, flash), _ffn_stage(model, il, n_tokens))
        peaks.append(stage + masks)
    return _Stages(
        prefix=(0, *itertools.accumulate(peaks, max)),
        suffix=(*reversed(tuple(itertools.accumulate(reversed(peaks), max))), 0),
        output=n_outputs * model.n_vocab * F32 + n_tokens * model.n_embd * F32 + first_mask,
        inputs=n_tokens * (3 * 4 + len(caches) * 2 * 8),
        embedding_lookup=n_tokens * model.n_embd * F32,
    )


def compute_buffers(model: ModelShape, settings: LoadSettings, placement: Placement) -> ComputeBuffers:
    stages = _stages(model, placement_free(settings))
    first = min(placement.first_gpu_layer, model.n_layer) if placement.n_gpu_layers else model.n_layer
    cpu, gpu = stages.prefix[first], stages.suffix[first]
    if placement.output_on_gpu:
        gpu = max(gpu, stages.output)
    else:
        cpu = max(cpu, stages.output)
    if placement.n_gpu_layers == 0:
        return ComputeBuffers(gpu=0, cpu=cpu + stages.inputs)
    # the token embeddings stay on the host, so their lookup runs there
    return ComputeBuffers(gpu=gpu + stages.inputs, cpu=max(cpu, stages.embedding_lookup) + stages.inputs)
