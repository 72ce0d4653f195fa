"""The hyper-parameters every text model gets, read the way llama.cpp's converter reads them.

Its rules, which decide the bytes: a key counts when it is present (even as null); the first present of a
list of synonyms wins; rope settings may sit in rope_parameters, rope_scaling or at the top level and are
mirrored into one dictionary; MoE settings are written whenever the config names them.
"""

from __future__ import annotations

from typing import Any

import gguf

from app.core.errors import ConvertError

Params = dict[str, Any]

_CTX = ("max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length")
_FF = ("prefix_dense_intermediate_size", "dense_intermediate_size", "intermediate_size", "n_inner", "hidden_dim")
_SCORE = (
    "score_function",
    "scoring_func",
    "score_func",
    "moe_router_activation",
    "moe_router_activation_func",
    "expert_selection_fn",
)
_GATING = {
    "sigmoid": gguf.ExpertGatingFuncType.SIGMOID,
    "softmax": gguf.ExpertGatingFuncType.SOFTMAX,
}


def find(hp: Params, *keys: str) -> Any:
    """The value of the first key present (None when none is, or when it is present as null)."""
    for key in keys:
        if key in hp:
            return hp[key]
    return None


def rope_parameters(hp: Params) -> Params:
    params = hp.get("rope_parameters", hp.get("rope_scaling")) or {}
    params = dict(params) if isinstance(params, dict) else {}
    if "full_attention" in params or "sliding_attention" in params:
        return params
    theta = find(hp, "global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base")
    local = find(
        hp, "local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta", "rope_local_base_freq"
    )
    partial = find(hp, "partial_rotary_factor", "rope_pct", "rope_percent")
    orig = find(hp, "original_max_position_embeddings")
    if local is not None:
        params["sliding_attention"] = {"rope_theta": local}
    if "rope_theta" not in params and theta is not None:
        params["rope_theta"] = theta
    if "rope_type" not in params and params.get("type") is not None:
        params["rope_type"] = params["type"]
    if "partial_rotary_factor" not in params and partial is not None:
        params["partial_rotary_factor"] = partial
    if "original_max_position_embeddings" not in params and orig is not None:
        params["original_max_position_embeddings"] = orig
    return params


def full_rope(hp: Params) -> Params:
    params = rope_parameters(hp)
    full = params.get("full_attention", params)
    return full if isinstance(full, dict) else {}


def text_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    w.add_block_count(int(find(hp, "n_layers", "num_hidden_layers", "n_layer", "num_layers")))
    if (n_ctx := find(hp, *_CTX)) is not None:
        w.add_context_length(n_ctx)
    if (n_embd := find(hp, "hidden_size", "n_embd", "dim")) is not None:
        w.add_embedding_length(n_embd)
    if (n_ff := find(hp, *_FF)) is not None:
        w.add_feed_forward_length(n_ff)
    if (n_head := find(hp, "num_attention_heads", "n_head", "n_heads")) is not None:
        w.add_head_count(n_head)
    if (n_kv := find(hp, "num_key_value_heads", "n_kv_heads")) is not None:
        w.add_head_count_kv(n_kv)
    if hp.get("is_causal") is False:
        w.add_causal_attention(False)
    _rope(w, hp)
    if (eps := find(hp, "rms_norm_eps", "norm_eps")) is not None:
        w.add_layer_norm_rms_eps(eps)
    if (eps := find(hp, "layer_norm_eps", "layer_norm_epsilon", "norm_epsilon")) is not None:
        w.add_layer_norm_eps(eps)
    _experts(w, hp)
    if (head_dim := hp.get("head_dim")) is not None:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_file_type(ftype)


def _rope(w: gguf.GGUFWriter, hp: Params) -> None:
    params = rope_parameters(hp)
    full = full_rope(hp)
    kind = full.get("rope_type")
    factor = full.get("factor")
    if kind == "linear" and factor is not None:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(factor)
    elif kind == "yarn" and factor is not None:
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(factor)
        w.add_rope_scaling_orig_ctx_len(full["original_max_position_embeddings"])
        if (v := full.get("extrapolation_factor")) is not None:
            w.add_rope_scaling_yarn_ext_factor(v)
        if (v := full.get("attention_factor", full.get("attn_factor"))) is not None:
            w.add_rope_scaling_yarn_attn_factor(v)
        if (v := full.get("beta_fast")) is not None:
            w.add_rope_scaling_yarn_beta_fast(v)
        if (v := full.get("beta_slow")) is not None:
            w.add_rope_scaling_yarn_beta_slow(v)
    elif kind in ("su", "longrope"):
        w.add_rope_scaling_type(gguf.RopeScalingType.LONGROPE)
    if "mrope_section" in params:
        sections = list(params["mrope_section"]) + [0] * 4
        w.add_rope_dimension_sections(sections[:4])
    if (theta := full.get("rope_theta")) is not None:
        w.add_rope_freq_base(theta)
    swa = params.get("sliding_attention") or {}
    if (local := swa.get("rope_theta")) is not None:
        w.add_rope_freq_base_swa(local)


def _experts(w: gguf.GGUFWriter, hp: Params) -> None:
    if (n := find(hp, "num_local_experts", "num_experts", "n_routed_experts")) is not None:
        w.add_expert_count(n)
    if (used := find(hp, "num_experts_per_tok", "num_experts_per_token", "top_k_experts")) is not None:
        w.add_expert_used_count(used)
    if (groups := hp.get("n_group")) is not None:
        w.add_expert_group_count(groups)
    if (used_groups := hp.get("topk_group")) is not None:
        w.add_expert_group_used_count(used_groups)
    if (score := find(hp, *_SCORE)) is not None:
        if score not in _GATING:
            raise ConvertError(f"expert gating function {score!r} is not one llama.cpp runs")
        w.add_expert_gating_func(_GATING[score])


def head_dim(hp: Params) -> int:
    value = hp.get("head_dim")
    return int(value) if value is not None else int(hp["hidden_size"]) // int(hp["num_attention_heads"])
