"""Build a ModelShape from a GGUF header (app.gguf): the only place that knows app.gguf's types.

Architecture-level rules taken from the pinned llama.cpp (llama-model.cpp create_memory, models/*.cpp):

* Encoder-only and diffusion models (BERT family, gemma-embedding, dream, llada, …) have no KV cache.
* Recurrent and hybrid models (mamba, rwkv, jamba, qwen3next, lfm2, …) keep a recurrent state, hybrids
  an attention cache only on their attention layers; sparse-attention models (DeepSeek 3.2, GLM-DSA, …)
  keep an indexer cache (layout.py, state.py). Architectures that are no chat model or whose cache is not
  modelled are refused by class (classes.py) rather than guessed.
* Multi-token-prediction layers (`nextn_predict_layers`) have no KV cache in the main context, and most
  MTP architectures do not even load their tensors (model.py MTP_SKIPPED_ARCHS).
* Gemma 3n / Gemma 4 layers past `n_layer - shared_kv_layers` reuse earlier layers' caches.
* MLA: when the file carries both `key_length_mla` and `value_length_mla`, llama.cpp keeps only the
  compressed K (`key_length` × `head_count_kv` values per cell) and no V.
"""

from __future__ import annotations

import dataclasses

from app.core.errors import EstimateError
from app.estimate.classes import check_estimable, has_no_cache
from app.estimate.layout import state_layout
from app.estimate.model import (
    EXPERT_TENSOR,
    ModelShape,
    WeightGroups,
    file_layout,
    group_weights,
    loaded_layers,
    moe_widths,
)
from app.gguf import GGUFHeader, GGUFModel, ModelFacts, model_facts

GEMMA3N_KV_LAYERS = 20  # llama.cpp hard-codes gemma3n's first 20 layers as the ones owning a cache


def _kv_layers(facts: ModelFacts, shared_kv_layers: int) -> tuple[bool, ...]:
    n = facts.n_layer
    if has_no_cache(facts.architecture):
        return (False,) * n
    last = n
    if facts.n_nextn_layers and n > facts.n_nextn_layers:
        last = n - facts.n_nextn_layers
    if facts.architecture == "gemma3n":
        last = min(last, GEMMA3N_KV_LAYERS)
    elif facts.architecture == "gemma4":
        last = min(last, n - shared_kv_layers)
    return tuple(il < last for il in range(n))


def shape_from_facts(facts: ModelFacts, tensors: tuple[tuple[str, int], ...], shared_kv_layers: int = 0) -> ModelShape:
    """`tensors`: (name, bytes) of every tensor of the model."""
    check_estimable(facts.architecture)
    if facts.n_layer < 1:
        raise EstimateError("the model declares no layers")
    n_loaded = loaded_layers(facts.architecture, facts.n_layer, facts.n_nextn_layers)
    groups = group_weights(tensors, facts.n_layer, n_loaded)
    layout = state_layout(facts)  # recurrent, hybrid and indexer models: create_memory's own layer filters
    kv_layers = layout.attention if layout is not None else _kv_layers(facts, shared_kv_layers)
    if facts.architecture == "graniteswitch":
        facts, kv_layers, groups = _router_layer(facts, kv_layers, groups)
    return ModelShape(
        arch=facts.architecture,
        n_layer=facts.n_layer,
        n_embd=facts.n_embd,
        n_vocab=facts.vocab_size,
        n_ctx_train=facts.context_length,
        n_head=facts.n_head,
        n_head_kv=facts.n_head_kv,
        head_k=facts.head_k,
        head_v=facts.head_v,
        head_k_swa=facts.head_k_swa,
        head_v_swa=facts.head_v_swa,
        swa_layers=facts.swa_layers,
        n_swa=facts.sliding_window,
        # DeepSeek-V4's caches keep K only, as MLA's do (llama-kv-cache-dsv4.cpp dsv4_make_k_only)
        mla=(facts.key_length_mla > 0 and facts.value_length_mla > 0) or facts.architecture == "deepseek4",
        kv_layers=kv_layers,
        n_ff=facts.n_ff,
        input_bytes=groups.input_bytes,
        layer_bytes=groups.layer_bytes,
        output_bytes=groups.output_bytes,
        tied_output_bytes=groups.tied_output_bytes,
        unloaded_bytes=groups.unloaded_bytes,
        n_expert=facts.n_expert,
        n_expert_used=facts.n_expert_used,
        expert_bytes=groups.expert_bytes,
        rs_layers=layout.recurrent if layout else (),
        n_embd_r=layout.n_embd_r if layout else 0,
        n_embd_s=layout.n_embd_s if layout else 0,
        indexer_k=layout.indexer_k if layout and any(layout.indexer_k) else (),
        rs_stage_width=layout.stage_width if layout else 0,
        rs_stage_quadratic=layout.stage_quadratic if layout else 0,
        indexer_stage=layout.indexer_stage if layout else 0,
        sparse_attention=layout.sparse_attention if layout else False,
        stream_width=layout.stream_width if layout else 0,
        compress_ratios=layout.compress_ratios if layout else (),
        compress_indexer=facts.state.indexer_head_size if layout and layout.compress_ratios else 0,
        compress_trunk=layout.compress_trunk if layout else 0,
        n_embd_p=layout.n_embd_p if layout else 0,
        p_layers=layout.p_layers if layout else (),
    )


def _router_layer(
    facts: ModelFacts, kv_layers: tuple[bool, ...], groups: WeightGroups
) -> tuple[ModelFacts, tuple[bool, ...], WeightGroups]:
    """Granite-Switch routes its adapters through an extra attention layer after the last block, with one
    head and one KV head and no weights of its own (models/granite-switch.cpp `router_layer`): the KV cache
    holds it like any other layer."""
    facts = dataclasses.replace(
        facts,
        n_layer=facts.n_layer + 1,
        n_head=(*facts.n_head, 1),
        n_head_kv=(*facts.n_head_kv, 1),
        n_ff=(*facts.n_ff, 0),
        swa_layers=(*facts.swa_layers, False),
    )
    groups = dataclasses.replace(groups, layer_bytes=(*groups.layer_bytes, 0))
    if groups.expert_bytes:
        groups = dataclasses.replace(groups, expert_bytes=(*groups.expert_bytes, 0))
    return facts, (*kv_layers, True), groups


def shape_from_header(source: GGUFHeader | GGUFModel) -> ModelShape:
    """The shape of a model from its header (a single file or a split set read as one)."""
    facts = model_facts(source)
    shared = source.metadata.get(f"{facts.architecture}.attention.shared_kv_layers")
    shared_kv = shared if isinstance(shared, int) and not isinstance(shared, bool) else 0
    shape = shape_from_facts(facts, tuple((t.name, t.n_bytes) for t in source.tensors), shared_kv)
    tensors = ((t.name, t.type_name, t.shape, t.n_bytes, t.part, t.offset) for t in source.tensors)
    n_loaded = loaded_layers(facts.architecture, shape.n_layer, facts.n_nextn_layers)
    weights, spans = file_layout(tensors, shape.n_layer, n_loaded)
    experts = frozenset(i for i, t in enumerate(source.tensors) if EXPERT_TENSOR.match(t.name))
    n_ff_moe = moe_widths(((t.name, t.shape) for t in source.tensors), n_loaded, facts.n_expert_used)
    n_ff_moe = n_ff_moe + (0,) * (shape.n_layer - len(n_ff_moe)) if n_ff_moe else ()
    names = {t.name for t in source.tensors}
    # Qwen4-Exp's n-gram table shares the per-layer embedding name but is gathered once, n_embd wide
    held = facts.architecture != "qwen4exp"
    shapes = {t.name: t.shape for t in source.tensors if held and t.name in _STREAM_TENSORS}
    gated = "blk.0.ffn_up.weight" not in names or any(
        f"blk.0.ffn_{x}.weight" in names for x in ("gate", "gate_up", "up_gate")
    )
    return dataclasses.replace(
        shape,
        matmul_weights=weights,
        tensor_spans=spans,
        expert_spans=experts,
        n_ff_moe=n_ff_moe,
        ffn_gated=gated,
        stream_width=shape.stream_width + _held_streams(shapes, shape.n_embd),
    )


_STREAM_TENSORS = ("per_layer_token_embd.weight", "altup_proj.weight")


def _held_streams(shapes: dict[str, tuple[int, ...]], n_embd: int) -> int:
    """f32 values per token that Gemma 3n / Gemma 4 hold through every layer (models/gemma3n.cpp, gemma4.cpp):
    the per-layer embeddings of all layers (per_layer_token_embd's rows) and Gemma 3n's AltUp streams
    (altup_proj stacks one matrix per extra stream), three copies of each at the allocator's peak
    (a fit to the CPU backend's compute buffers of tiny models: within 6% at three settings)."""
    per_layer = shapes.get("per_layer_token_embd.weight", (0,))[0]
    altup = shapes["altup_proj.weight"][2] + 1 if len(shapes.get("altup_proj.weight", ())) == 3 else 0
    return 3 * per_layer + 3 * altup * n_embd
