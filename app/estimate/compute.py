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
* attention stage of a layer: `n_tokens × 4 × (4·n_embd + Q width + K width + V width)` (MLA: plus the
  heads' output in the latent space, n_head × kv_lora_rank), and without flash attention also the score
  matrix `n_kv × n_tokens × n_head × 4` (`n_kv` = that layer's cache cells; a model without a cache,
  diffusion or encoder, attends over the ubatch alone: `n_kv` = n_tokens);
* feed-forward stage of a layer: `n_tokens × 4 × (3·n_ff + min(n_ff, 4·n_embd))` — gate, up and their
  product, plus the hidden states around them (an empirical fit to the allocator's packing; 2·n_ff for
  a feed-forward without a gate, GPT-2 style; for an MoE layer n_ff is the width its chosen experts and
  its shared expert compute per token, read from the expert tensors' shapes); with
  fewer output rows than tokens (our engine: one) a layer after the first also carries its input,
  `min(n_ff + n_embd, 4·n_embd)` in place of `min(n_ff, 4·n_embd)`, and the last layer's feed-forward
  part runs on the output rows only (llama.cpp selects them first);
* recurrent stage of a recurrent layer (in place of the attention stage unless the layer also attends):
  `n_tokens × 4 × stage width` plus, for lightning attention, a term in `n_tokens²` — per state kind fits
  in layout.py; an indexed layer adds the indexer's scores, `n_kv × n_tokens × bytes per cell`;
* masks: `n_kv × n_tokens` per cache (full and sliding-window), f16 with flash attention, f32 without
  (a hybrid only for the caches its attention layers use, a purely recurrent model none, a model whose
  every layer uses the window no full-size one);
* small inputs: token ids, positions, output ids (4 bytes each) and per cache the K and V row
  indices (8 bytes each), per token.

Calibrated against the pinned llama.cpp's CPU backend (reported compute buffer sizes) on generated
llama-architecture models (grouped-query attention, several widths, vocabularies, contexts, ubatch
sizes, flash attention on and off) and on Gemma 3 270M: mostly within 1%, the worst cases 2% under and
6% over (Gemma 3 with a full-size 32k sliding-window cache, whose first-layer mask is reused after all);
benchmarks/estimate_vs_llama.py prints the comparison, also for a tiny model of every transformer
architecture (app.gguf.synthetic_arch): with the engine's settings within -15% / +25% except llama-embed
(non-causal, over). Gemma 3n and Gemma 4 add the streams they hold through every layer (shape.py).
Note the default `n_outputs_max = n_batch`: for Gemma's 262k vocabulary the worst-case logits alone take
512 MiB at n_ubatch 512.

The split between devices follows the layer placement: the GPU buffer holds the stages of offloaded
layers (and the output stage when the output layer is offloaded), the host buffer the stages of the
layers left on the CPU plus the embedding lookup, which always runs on the host. That split is derived
from the source, not measured (this machine has no GPU).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from app.estimate.kv import CELL_PAD, context_sizes, flash_attn_enabled, kv_sizes, pad, placement_free
from app.estimate.layout import DSV4_CSA
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
    if model.mla:  # MLA: the attention's output per head in the latent space, before its V projection
        widths += model.n_head[il] * model.head_sizes(il)[1]
    stage = n_tokens * F32 * widths
    if not flash:
        stage += n_kv * n_tokens * model.n_head[il] * F32
    return stage


def _ffn_stage(model: ModelShape, il: int, n_tokens: int, n_outputs: int, last: bool) -> int:
    # an MoE layer computes its chosen experts (and the shared one) for every token
    n_ff = model.n_ff_moe[il] if model.n_ff_moe and model.n_ff_moe[il] else model.n_ff[il]
    products = 3 if model.ffn_gated else 2  # gate, up and their product; without a gate up and its activation
    if last and n_outputs < n_tokens:  # llama.cpp keeps only the output rows before the last feed-forward
        return n_outputs * F32 * (products * n_ff + min(n_ff, 4 * model.n_embd))
    # With fewer output rows than tokens (the engine's one row), from the second layer on the previous
    # layer's output lives on beside the products while there is room below the 4·n_embd of the norms
    # and residuals: measured on the CPU backend, where the default outputs showed no such term.
    carried = model.n_embd if il > 0 and n_outputs < n_tokens else 0
    return n_tokens * F32 * (products * n_ff + min(n_ff + carried, 4 * model.n_embd))


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
    n_kv_full = sizes.n_ctx_seq
    in_ubatch = model.arch in _UBATCH_ATTENTION
    if (not any(model.kv_layers) and not model.rs_layers) or in_ubatch:  # attention over the ubatch alone
        caches = [n_tokens]
        n_kv_full = n_tokens
    # a mask no layer reads is never allocated (a model whose every layer uses the window has no full one)
    full_used = not model.has_swa or not all(model.swa_layers)
    masks = sum(cells * n_tokens * mask_type for cells in caches[0 if full_used else 1 :])
    first_swa = model.has_swa and model.swa_layers[0]
    first_mask = (cells_swa if first_swa else n_kv_full) * n_tokens * mask_type
    if model.rs_layers:  # hybrids build masks only for the caches their attention layers use
        used = [il for il in range(model.n_layer) if model.kv_layers[il]]
        swa_used = [il for il in used if model.has_swa and model.swa_layers[il]]
        masks = (len(used) > len(swa_used)) * sizes.n_ctx_seq * n_tokens * mask_type
        masks += bool(swa_used) * cells_swa * n_tokens * mask_type
        first_mask = 0
        if used:
            first_mask = (cells_swa if used[0] in swa_used else sizes.n_ctx_seq) * n_tokens * mask_type

    peaks = []
    for il in range(model.n_layer):
        n_kv = cells_swa if model.has_swa and model.swa_layers[il] else n_kv_full
        stage = _ffn_stage(model, il, n_tokens, n_outputs, il == model.n_layer - 1)
        indexed = bool(model.indexer_k) and model.indexer_k[il] > 0
        if model.kv_layers[il] or not model.rs_layers:
            no_scores = flash or (indexed and model.sparse_attention)  # MSA builds no n_kv × n_tokens scores
            stage = max(stage, _attention_stage(model, il, n_tokens, n_kv, no_scores))
        if model.rs_layers and model.rs_layers[il]:
            recurrent = n_tokens * F32 * model.rs_stage_width + n_tokens * n_tokens * model.rs_stage_quadratic
            stage = max(stage, recurrent)  # layout.py's recurrent stage
        if indexed:
            stage += n_kv * n_tokens * model.indexer_stage  # the indexer's scores and selection (layout.py)
        if model.compress_ratios and model.compress_ratios[il] == DSV4_CSA:
            per_cell = _DSV4_LID_STAGE + (0 if flash else _DSV4_SCORES * model.n_head[il])
            stage += pad(-(-sizes.n_ctx_seq // DSV4_CSA), CELL_PAD) * n_tokens * per_cell
        stage += n_tokens * F32 * model.stream_width  # hyper-connection streams, per-layer embeddings (shape.py)
        peaks.append(stage + masks)
    return _Stages(
        prefix=(0, *itertools.accumulate(peaks, max)),
        suffix=(*reversed(tuple(itertools.accumulate(reversed(peaks), max))), 0),
        output=(0 if in_ubatch else n_outputs * model.n_vocab * F32 * _LOGIT_COPIES.get(model.arch, 1))
        + n_tokens * model.n_embd * F32
        + first_mask,
        inputs=n_tokens * (3 * 4 + len(caches) * 2 * 8),
        embedding_lookup=n_tokens * model.n_embd * F32,
    )


# Embedding models whose graph attends within the ubatch (llm_graph_input_attn_no_cache) and ends at the
# hidden state, no logits (models/llama.cpp `graph<embed = true>`), although create_memory still makes them
# a KV cache (kv.py counts it).
_UBATCH_ATTENTION = frozenset({"llama-embed"})

# Chameleon's graph writes its image-token mask into a copy of the logits (models/chameleon.cpp ggml_set_1d).
_LOGIT_COPIES = {"chameleon": 2}

# DeepSeek-V4's lightning indexer scores every compressed cell of a CSA layer for each token (its heads'
# scores and the top-k selection): bytes per compressed cell and token, fitted to the CPU backend's compute
# buffers of the synthetic model (-1% to +7% from 1k to 16k context, ubatch 128 and 512).
_DSV4_LID_STAGE = 11
# Without flash attention its CSA layers also hold every head's scores over the compressed cells: bytes per
# compressed cell, token and head (same fit, -6% to -1% at 1k to 16k context, 1 to 3 sequences).
_DSV4_SCORES = 6


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
