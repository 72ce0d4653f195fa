"""Hybrid attention + linear-attention / state-space families: Qwen3-Next, Qwen3.5 (dense and MoE), Jamba,
Granite 4.0-H, Falcon-H1.

Their linear-attention (Gated DeltaNet) layers come as fused or head-grouped projections that llama.cpp wants
in another row order; every change here is a selection of rows or columns, never arithmetic, except the
decay A = -exp(A_log) which llama.cpp's converter computes (a small tensor, computed here too) and
Falcon-H1's multipliers, which it folds into the weights (computed in its order and precision).
Multi-token-prediction (MTP) layers follow llama.cpp's converter: kept by default as extra blocks past
num_hidden_layers, left out with the no-MTP option (hparams.NO_MTP).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial

import gguf
import numpy as np

from app.convert.experts import Experts
from app.convert.families import QWEN_EXPERTS, granite_moe_params, granite_moe_rewrite, qwen_moe_params
from app.convert.hparams import NO_MTP
from app.convert.pieces import Piece, split_rows
from app.convert.safetensors_file import TensorRef, read_values
from app.convert.text_params import Params, find, head_dim, rope_parameters
from app.core.errors import ConvertError

log = logging.getLogger("app.convert")

_MTP_LAYER = re.compile(r"mtp\.layers\.(\d+)\.(.+)")
# MTP tensors outside its layers, and the names llama.cpp's tensor map knows them by (on the first MTP block).
_MTP_SHARED = {
    "fc": "eh_proj",
    "pre_fc_norm_embedding": "enorm",
    "pre_fc_norm_hidden": "hnorm",
    "norm": "shared_head.norm",
}
_QWEN35_MROPE = [11, 11, 10, 0]  # llama.cpp's Qwen3.5 loader requires sections; the model's defaults
N_MTP = "_n_mtp"  # hparams key: MTP blocks this conversion writes (set by qwen_mtp_prepare)

QWEN_MOE_EXPERTS = QWEN_EXPERTS
# The MTP block's own tensors: llama.cpp's Qwen3-Next / Qwen3.5 lists have them, gguf 0.19's do not yet.
NEXTN_TENSORS = (
    gguf.MODEL_TENSOR.NEXTN_EH_PROJ,
    gguf.MODEL_TENSOR.NEXTN_EMBED_TOKENS,
    gguf.MODEL_TENSOR.NEXTN_ENORM,
    gguf.MODEL_TENSOR.NEXTN_HNORM,
    gguf.MODEL_TENSOR.NEXTN_SHARED_HEAD_HEAD,
    gguf.MODEL_TENSOR.NEXTN_SHARED_HEAD_NORM,
)


def qwen_mtp_prepare(hp: Params, tensors: dict[str, TensorRef]) -> Params:
    """How many MTP blocks to write: config's mtp_num_hidden_layers, else as many as the checkpoint holds
    (Qwen3-Next's config names none). A checkpoint without MTP tensors gets none: llama.cpp's converter
    stops there unless told --no-mtp, whose output this is."""
    found = 0
    for name in tensors:
        m = _MTP_LAYER.match(name.removeprefix("model."))
        if m is not None:
            found = max(found, int(m[1]) + 1)
    has_mtp = found > 0 or any(n.removeprefix("model.").startswith("mtp.") for n in tensors)
    n = int(hp.get("mtp_num_hidden_layers", 0) or 0) or found
    return {**hp, N_MTP: n if has_mtp and not hp.get(NO_MTP) else 0}


def mtp_blocks(hp: Params) -> int:
    """The MTP blocks this conversion writes past num_hidden_layers (set by the family's prepare)."""
    return int(hp.get(N_MTP, 0))


def qwen_mtp_rename(name: str, hp: Params) -> str | None:
    """MTP tensors under the layer numbers llama.cpp gives them (None: left out)."""
    name = name.removeprefix("model.") if name.startswith("model.mtp.") else name
    if not name.startswith("mtp."):
        return name
    if not mtp_blocks(hp):
        return None
    first_mtp = int(hp["num_hidden_layers"])
    if (m := _MTP_LAYER.fullmatch(name)) is not None:
        return f"model.layers.{first_mtp + int(m[1])}.{m[2]}"
    parts = name.split(".")
    if len(parts) == 3 and parts[1] in _MTP_SHARED:
        return f"model.layers.{first_mtp}.{_MTP_SHARED[parts[1]]}.{parts[2]}"
    return name  # unknown: the tensor map will say so


def qwen3next_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    n_layer = int(hp["num_hidden_layers"])
    n_mtp = mtp_blocks(hp)
    qwen_moe_params(w, {**hp, "num_hidden_layers": n_layer + n_mtp}, ftype)
    w.add_ssm_conv_kernel(hp["linear_conv_kernel_dim"])
    w.add_ssm_state_size(hp["linear_key_head_dim"])
    w.add_ssm_group_count(hp["linear_num_key_heads"])
    w.add_ssm_time_step_rank(hp["linear_num_value_heads"])
    w.add_ssm_inner_size(hp["linear_value_head_dim"] * hp["linear_num_value_heads"])
    if (layer_types := hp.get("layer_types")) is not None:
        if len(layer_types) != n_layer:
            raise ConvertError(f"layer_types has {len(layer_types)} entries for {n_layer} layers in config.json")
        recurrent = [t == "linear_attention" for t in layer_types] + [False] * n_mtp
        # written by key: the gguf package on PyPI has no add_recurrent_layers yet
        w.add_array(f"{w.arch}.attention.recurrent_layers", recurrent)
    w.add_full_attention_interval(hp.get("full_attention_interval", 4))
    w.add_rope_dimension_count(int(head_dim(hp) * rope_parameters(hp).get("partial_rotary_factor", 0.25)))
    if n_mtp:
        w.add_nextn_predict_layers(n_mtp)


def qwen35_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    qwen3next_params(w, hp, ftype)
    if "mrope_section" not in rope_parameters(hp):
        w.add_rope_dimension_sections(_QWEN35_MROPE)


def _neg_exp(ref: TensorRef, order: np.ndarray | None = None) -> np.ndarray:
    """A = -exp(A_log), in the precision llama.cpp's converter computes it: float16 stays float16; anything else
    is computed in float64 and rounded once (torch's float32 exp may differ from that in the last bit)."""
    values = read_values(ref)
    if order is not None:
        values = values[order]
    if ref.dtype == "F16":
        return -np.exp(values).astype(np.float16).astype(np.float32)
    return (-np.exp(values.astype(np.float64))).astype(np.float32)


def _fused_experts(name: str, ref: TensorRef) -> list[Piece] | None:
    """Experts stacked in one tensor per projection (Transformers 5 layout): gate and up halves split."""
    if name.endswith(("mlp.experts.down_proj", "mlp.experts.down_proj.weight")):
        return [Piece(name.removesuffix(".weight") + ".weight", None, ref.shape)]
    if name.endswith(("mlp.experts.gate_up_proj", "mlp.experts.gate_up_proj.weight")):
        if len(ref.shape) < 3 or ref.shape[-2] % 2:
            raise ConvertError(f"{name} has shape {ref.shape}, not experts x 2*n_ff x n_embd")
        half = ref.shape[-2] // 2
        base = name.removesuffix(".weight").removesuffix(".gate_up_proj")
        (rows_g, shape_g), (rows_u, shape_u) = split_rows(ref, [half, half])
        return [Piece(f"{base}.gate_proj.weight", rows_g, shape_g), Piece(f"{base}.up_proj.weight", rows_u, shape_u)]
    return None


def _common_linear(name: str, ref: TensorRef, order: np.ndarray | None) -> list[Piece] | None:
    if name.endswith(".A_log"):
        return [Piece(name, None, ref.shape, data=_neg_exp(ref, order))]
    if name.endswith(".dt_bias"):
        return [Piece(name.removesuffix(".dt_bias") + ".dt_proj.bias", order, ref.shape)]
    return None


def qwen3next_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if (pieces := _fused_experts(name, ref)) is not None or (pieces := _common_linear(name, ref, None)) is not None:
        return pieces
    if "conv1d" in name:
        return [Piece(name, None, tuple(d for d in ref.shape if d != 1))]
    if "in_proj_qkvz.weight" in name:
        return _split_qkvz(name, ref, hp)
    return None


def _split_qkvz(name: str, ref: TensorRef, hp: Params) -> list[Piece]:
    """Rows come per key head as [q, k, v, z]; llama.cpp wants all q, all k, all v (one tensor), then all z."""
    n_k, n_v = int(hp["linear_num_key_heads"]), int(hp["linear_num_value_heads"])
    dk, dv = int(hp["linear_key_head_dim"]), int(hp["linear_value_head_dim"])
    v_per_k = n_v // n_k * dv
    sizes = [dk, dk, v_per_k, v_per_k]
    group = sum(sizes)
    if ref.shape[0] != n_k * group:
        raise ConvertError(f"{name} has {ref.shape[0]} rows, not {n_k} key heads x {group}")
    starts = np.cumsum([0, *sizes[:-1]])
    heads = np.arange(n_k, dtype=np.int64)[:, None] * group
    part = [(heads + s + np.arange(n, dtype=np.int64)).reshape(-1) for s, n in zip(starts, sizes, strict=True)]
    bid = name.split(".")[2]
    qkv = np.concatenate(part[:3])
    return [
        Piece(f"blk.{bid}.attn_qkv.weight", qkv, (len(qkv), ref.shape[1]), gguf_name=True),
        Piece(f"blk.{bid}.attn_gate.weight", part[3], (len(part[3]), ref.shape[1]), gguf_name=True),
    ]


def _tiled(n_k: int, v_per_k: int, width: int, offset: int = 0) -> np.ndarray:
    """V heads grouped by key head -> tiled (llama.cpp broadcasts key heads by repeating them)."""
    idx = np.arange(n_k * v_per_k * width, dtype=np.int64).reshape(n_k, v_per_k, width)
    return offset + idx.transpose(1, 0, 2).reshape(-1)


def qwen35_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if (pieces := _fused_experts(name, ref)) is not None:
        return pieces
    n_k, n_v = int(hp.get("linear_num_key_heads", 0)), int(hp.get("linear_num_value_heads", 0))
    reorder = n_k > 0 and n_v > 0 and n_k != n_v and "linear_attn." in name
    if not reorder:
        return qwen3next_rewrite(name, ref, hp)
    dk, dv, v_per_k = int(hp["linear_key_head_dim"]), int(hp["linear_value_head_dim"]), n_v // n_k
    heads = _tiled(n_k, v_per_k, 1)
    if (pieces := _common_linear(name, ref, heads)) is not None:
        return pieces
    qk = 2 * n_k * dk
    if ".in_proj_qkv." in name or ".conv1d" in name:
        rows = np.concatenate([np.arange(qk, dtype=np.int64), _tiled(n_k, v_per_k, dv, qk)])
        return [Piece(name, rows, tuple(d for d in ref.shape if d != 1))]
    if ".in_proj_z." in name:
        return [Piece(name, _tiled(n_k, v_per_k, dv), ref.shape)]
    if ".in_proj_b." in name or ".in_proj_a." in name:
        return [Piece(name, heads, ref.shape)]
    if ".out_proj." in name:
        return [Piece(name, None, ref.shape, transform=partial(_columns, order=_tiled(n_k, v_per_k, dv)))]
    return qwen3next_rewrite(name, ref, hp)


def _columns(x: np.ndarray, order: np.ndarray) -> np.ndarray:
    return x[..., order]


# --- Jamba: Mamba-1 layers, attention every attn_layer_period layers, experts every expert_layer_period ---------

JAMBA_EXPERTS = Experts(
    pattern=r"model\.layers\.(?P<bid>\d+)\.feed_forward\.experts\.(?P<xid>\d+)\.(?P<w>\w+)\.weight",
    order=("down_proj", "gate_proj", "up_proj"),
    merged="model.layers.{bid}.mlp.experts.{w}.weight",
)


def jamba_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    # llama.cpp's converter writes exactly these keys for Jamba, none of the common text-model ones.
    d_model = int(find(hp, "hidden_size", "mamba_d_model"))
    n_layer = int(hp["num_hidden_layers"])
    n_kv, offset, period = hp["num_key_value_heads"], int(hp["attn_layer_offset"]), int(hp["attn_layer_period"])
    n_kv_per_layer = [n_kv if i >= offset and (i - offset) % period == 0 else 0 for i in range(n_layer)]
    w.add_block_count(n_layer)
    w.add_context_length(find(hp, "max_position_embeddings", "n_ctx"))
    w.add_embedding_length(d_model)
    w.add_feed_forward_length(hp["intermediate_size"])
    w.add_head_count(hp["num_attention_heads"])
    w.add_head_count_kv(n_kv_per_layer)
    w.add_ssm_conv_kernel(find(hp, "mamba_d_conv") or 4)
    w.add_ssm_inner_size(int(hp["mamba_expand"]) * d_model)
    w.add_ssm_state_size(find(hp, "mamba_d_state") or 16)
    w.add_ssm_time_step_rank(find(hp, "mamba_dt_rank") or -(d_model // -16))
    w.add_layer_norm_rms_eps(find(hp, "layer_norm_epsilon", "rms_norm_eps") or 1e-6)
    w.add_expert_count(find(hp, "num_local_experts", "num_experts"))
    w.add_expert_used_count(find(hp, "num_experts_per_tok", "num_experts_per_token"))
    w.add_file_type(ftype)


def jamba_rename(name: str, hp: Params) -> str | None:
    """Mini-Jamba's `.moe.` layers; a layer without experts may still store its one MLP as expert 0."""
    name = name.replace(".moe.", ".feed_forward.")
    if name.startswith("model.layers."):
        bid = int(name.split(".")[2])
        offset, period = int(hp["expert_layer_offset"]), int(hp["expert_layer_period"])
        if not (bid >= offset and (bid - offset) % period == 0):
            name = name.replace(".experts.0.", ".")
    return name


def jamba_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if name.endswith(".A_log"):
        return [Piece(name, None, ref.shape, data=_neg_exp(ref))]
    if "conv1d" in name:
        return [Piece(name, None, tuple(d for d in ref.shape if d != 1))]
    return None


# --- Granite 4.0-H (GraniteMoeHybrid): Mamba-2 layers and Granite (MoE) attention layers --------------------------

# The spellings of an attention layer: Granite 4's published configs write "attention" (which llama.cpp's
# converter reads); Transformers 5 writes "full_attention" (and "linear_attention" for Mamba).
_ATTENTION_TYPES = ("attention", "full_attention")


def granite_hybrid_attention_layers(hp: Params) -> list[int]:
    n_layer = int(hp["num_hidden_layers"])
    if layer_types := hp.get("layer_types"):
        return [i for i, kind in enumerate(layer_types) if kind in _ATTENTION_TYPES]
    if indices := hp.get("attn_layer_indices"):
        return [int(i) for i in indices]
    period, offset = hp.get("attn_layer_period"), hp.get("attn_layer_offset")
    if not period or offset is None:
        raise ConvertError("config.json names no attention layers (layer_types or attn_layer_period/offset)")
    return [i for i in range(n_layer) if i % int(period) == int(offset)]


def _granite_mamba(hp: Params) -> tuple[int, int]:
    """(d_inner, n_group), read as llama.cpp's converter reads them (the mamba_ prefix as a fallback)."""
    d_model = int(find(hp, "mamba_head_dim", "hidden_size", "d_model"))
    n_group = int(find(hp, "n_groups", "num_groups", "mamba_n_groups", "mamba_num_groups"))
    expand = int(find(hp, "expand", "num_heads", "mamba_expand", "mamba_num_heads"))
    return expand * d_model, n_group


def granite_hybrid_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    n_layer = int(hp["num_hidden_layers"])
    attn = granite_hybrid_attention_layers(hp)
    if len(attn) == n_layer:
        raise ConvertError("a Granite hybrid config without Mamba layers is a plain Granite model")
    n_kv = find(hp, "num_key_value_heads", "n_head_kv")
    # Keys llama.cpp's converter writes twice (its later value wins) go in once, with that later value.
    overrides: Params = {"num_key_value_heads": [n_kv if i in attn else 0 for i in range(n_layer)]}
    use_rope = "BambaForCausalLM" in (hp.get("architectures") or [])
    if not use_rope:
        overrides["max_position_embeddings"] = 2**20
    granite_moe_params(w, {**hp, **overrides}, ftype)
    if rope_dim := hp.get("attn_rotary_emb"):
        w.add_rope_dimension_count(rope_dim)  # replaces the one written above, as in llama.cpp's converter
    d_inner, n_group = _granite_mamba(hp)
    w.add_ssm_conv_kernel(find(hp, "conv_kernel", "d_conv", "mamba_conv_kernel", "mamba_d_conv"))
    w.add_ssm_state_size(
        find(hp, "state_size", "d_state", "state_dim", "ssm_state_size", "mamba_state_size", "mamba_d_state")
    )
    w.add_ssm_group_count(n_group)
    w.add_ssm_inner_size(d_inner)
    w.add_ssm_time_step_rank(find(hp, "n_heads", "num_heads", "mamba_n_heads", "mamba_num_heads"))
    w.add_rope_scaling_finetuned(use_rope)


def granite_hybrid_vocab_size(hp: Params) -> int:
    return -(int(hp["vocab_size"]) // -8) * 8  # padded to a multiple of 8, as for Mamba-2 with Mamba layers


def _mamba2_pieces(name: str, ref: TensorRef) -> list[Piece] | None:
    """Mamba-2's per-layer tensors in llama.cpp's shapes (Granite 4.0-H and Falcon-H1 store them alike)."""
    if name.endswith(".dt_bias"):
        return [Piece(name.removesuffix(".dt_bias") + ".dt_proj.bias", None, ref.shape)]
    if name.endswith(".A_log"):
        return [Piece(name, None, (*ref.shape, 1), data=_neg_exp(ref).reshape(*ref.shape, 1))]
    if name.endswith(".D"):
        return [Piece(name, None, (*ref.shape, 1))]
    if name.endswith("conv1d.weight"):
        return [Piece(name, None, tuple(d for d in ref.shape if d != 1))]
    return None


def granite_hybrid_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if (pieces := granite_moe_rewrite(name, ref, hp)) is not None:
        return pieces
    if ".mamba." not in name:
        return None
    if (pieces := _mamba2_pieces(name, ref)) is not None:
        return pieces
    if name.endswith("mamba.norm.weight"):
        d_inner, n_group = _granite_mamba(hp)
        return [Piece(name, None, (n_group, d_inner // n_group))]
    return None


# --- Falcon-H1: Mamba-2 and attention side by side in every layer, with multipliers baked into the weights ----


def _falcon_mamba(hp: Params) -> tuple[int, int]:
    return int(find(hp, "mamba_d_ssm", "mamba_mamba_d_ssm")), int(find(hp, "n_groups", "mamba_n_groups"))


def falcon_h1_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    # What llama.cpp's converter writes (Mamba-2's keys, some of them replaced by Falcon-H1's), each once.
    d_inner, n_group = _falcon_mamba(hp)
    head_dim_ssm = find(hp, "mamba_d_head", "head_dim", "mamba_mamba_d_head", "mamba_head_dim") or 64
    w.add_context_length(hp.get("max_position_embeddings", 0))
    w.add_embedding_length(find(hp, "hidden_size", "d_model", "dim", "mamba_hidden_size", "mamba_d_model"))
    w.add_feed_forward_length(hp["intermediate_size"])
    w.add_head_count(hp["num_attention_heads"])
    w.add_block_count(int(find(hp, "n_layers", "num_hidden_layers", "n_layer", "num_layers")))
    w.add_ssm_conv_kernel(find(hp, "conv_kernel", "d_conv", "mamba_conv_kernel", "mamba_d_conv") or 4)
    w.add_ssm_inner_size(d_inner)
    w.add_ssm_state_size(find(hp, "state_size", "d_state", "mamba_state_size", "mamba_d_state") or 128)
    w.add_ssm_time_step_rank(d_inner // int(head_dim_ssm))
    w.add_ssm_group_count(n_group)
    eps = find(hp, "layer_norm_epsilon", "rms_norm_eps", "mamba_layer_norm_epsilon", "mamba_rms_norm_eps")
    w.add_layer_norm_rms_eps(eps or 1e-5)
    w.add_file_type(ftype)
    w.add_vocab_size(hp["vocab_size"])
    w.add_head_count_kv(hp["num_key_value_heads"])
    w.add_key_length(hp["head_dim"])
    w.add_value_length(hp["head_dim"])
    w.add_rope_freq_base(rope_parameters(hp)["rope_theta"])


def _times(x: np.ndarray, factor: float | np.ndarray) -> np.ndarray:
    """x * factor as torch computes it: in float32, rounded back to x's type (float16 stays float16)."""
    if x.dtype == np.float16:
        return (x.astype(np.float32) * np.float32(factor)).astype(np.float16)
    return x * np.asarray(factor, dtype=np.float32)


def _scaled(*factors: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def scale(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        for f in factors:  # one rounding per factor, as llama.cpp's converter multiplies them in turn
            x = _times(x, f)
        return x

    return scale


def _falcon_in_proj(hp: Params) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """in_proj's rows are z, x, B, C, dt: each part gets its own multiplier after the common one."""
    d_ssm = int(hp["mamba_d_ssm"])
    gs = int(hp["mamba_n_groups"]) * int(hp["mamba_d_state"])
    bounds = np.array([d_ssm, 2 * d_ssm, 2 * d_ssm + gs, 2 * d_ssm + 2 * gs])
    per_part = np.asarray(hp["ssm_multipliers"], dtype=np.float32)
    common = float(hp["ssm_in_multiplier"])

    def scale(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        x = _times(x, common)
        factors = per_part[np.searchsorted(bounds, rows, side="right")]
        return _times(x, factors[:, None])

    return scale


def _falcon_scale(name: str, hp: Params) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """The multiplier llama.cpp's converter folds into a tensor, found by the same name tests, in the same order."""
    mlp = hp.get("mlp_multipliers") or (1.0, 1.0)
    attn_in = float(hp["attention_in_multiplier"])
    tests: list[tuple[str, Callable[[], Callable[[np.ndarray, np.ndarray], np.ndarray]]]] = [
        ("down_proj", lambda: _scaled(mlp[1])),
        ("gate_proj", lambda: _scaled(mlp[0])),
        ("k_proj", lambda: _scaled(hp["key_multiplier"], attn_in)),
        ("q_proj", lambda: _scaled(attn_in)),
        ("v_proj", lambda: _scaled(attn_in)),
        ("o_proj", lambda: _scaled(hp["attention_out_multiplier"])),
        ("out_proj", lambda: _scaled(hp["ssm_out_multiplier"])),
        ("in_proj", lambda: _falcon_in_proj(hp)),
        ("lm_head", lambda: _scaled(hp["lm_head_multiplier"])),
        ("embed_tokens", lambda: _scaled(hp["embedding_multiplier"])),
    ]
    for key, make in tests:
        if key in name:
            return make()
    return None


def falcon_h1_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if (pieces := _mamba2_pieces(name, ref)) is not None:
        return pieces
    if "mamba.norm" in name:
        d_inner, n_group = _falcon_mamba(hp)
        return [Piece(name, None, (n_group, d_inner // n_group))]
    if (scale := _falcon_scale(name, hp)) is not None:
        return [Piece(name, None, ref.shape, scale=scale)]
    return None


# --- Nemotron-H: every layer is one of Mamba-2, attention or MLP ("M", "*", "-" in hybrid_override_pattern) ----

_NEMOTRON_PATTERN = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}
_NEMOTRON_TYPES = {
    "mamba": "mamba",
    "linear_attention": "mamba",
    "attention": "attention",
    "full_attention": "attention",
    "mlp": "mlp",
    "moe": "moe",
}


_NEMOTRON_EXPERT_KEYS = frozenset(
    ("n_routed_experts", "num_experts_per_tok", "n_group", "topk_group", "n_shared_experts", "moe_intermediate_size")
)


def nemotron_h_layers(hp: Params) -> list[str]:
    """Each layer's kind, from the pattern string published checkpoints carry (or Transformers 5's list)."""
    pattern = hp.get("hybrid_override_pattern") or hp.get("layers_block_type")
    if not pattern:
        raise ConvertError("config.json has no hybrid_override_pattern: the kind of each Nemotron-H layer is unknown")
    table = _NEMOTRON_PATTERN if isinstance(pattern, str) else _NEMOTRON_TYPES
    kinds = [table.get(str(item), "") for item in pattern]
    if "" in kinds:
        raise ConvertError(f"config.json's Nemotron-H layer pattern {pattern!r} has kinds llama.cpp does not know")
    n_layer = hp.get("num_hidden_layers")
    if n_layer is not None and int(n_layer) != len(kinds):
        raise ConvertError(f"config.json names {n_layer} layers but its layer pattern has {len(kinds)}")
    return kinds


def nemotron_h_has_experts(hp: Params) -> bool:
    """Only the layer pattern tells: Transformers 5 writes num_experts_per_tok into every Nemotron-H config,
    and llama.cpp's converter then writes a dense model as nemotron_h_moe, which llama.cpp cannot load."""
    return "moe" in nemotron_h_layers(hp)


def _nemotron_mamba(hp: Params) -> tuple[int, int]:
    """(d_inner, n_group): heads x head width, not expand x hidden size (as llama.cpp's converter reads them)."""
    d_head = int(find(hp, "mamba_head_dim", "hidden_size", "d_model"))
    return int(find(hp, "num_heads", "mamba_num_heads")) * d_head, int(find(hp, "n_groups", "num_groups"))


def nemotron_h_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    kinds = nemotron_h_layers(hp)
    n_kv = find(hp, "num_key_value_heads", "n_head_kv")
    n_ff = int(find(hp, "intermediate_size", "n_inner", "hidden_dim"))
    # The per-layer lists take the place of the plain values llama.cpp's converter writes first and then replaces.
    overrides: Params = {
        "num_hidden_layers": len(kinds),
        "num_key_value_heads": [n_kv if kind == "attention" else 0 for kind in kinds],
        "intermediate_size": [n_ff if kind == "mlp" else 0 for kind in kinds],
        "max_position_embeddings": 2**20,
    }
    # A dense model's expert keys (Transformers 5 writes them into every Nemotron-H config) say nothing here.
    dense = {k: v for k, v in hp.items() if k not in _NEMOTRON_EXPERT_KEYS}
    granite_moe_params(w, {**dense, **overrides}, ftype)  # granite's: without head_dim, written last here
    _nemotron_ssm_and_head_keys(w, hp)


def _nemotron_ssm_and_head_keys(w: gguf.GGUFWriter, hp: Params) -> None:
    """The Mamba-2 state keys and the attention head width, in the order llama.cpp's converter writes them."""
    d_inner, n_group = _nemotron_mamba(hp)
    w.add_ssm_conv_kernel(find(hp, "conv_kernel", "d_conv", "mamba_conv_kernel", "mamba_d_conv"))
    w.add_ssm_state_size(find(hp, "state_size", "d_state", "state_dim", "ssm_state_size", "mamba_state_size"))
    w.add_ssm_group_count(n_group)
    w.add_ssm_inner_size(d_inner)
    w.add_ssm_time_step_rank(find(hp, "n_heads", "num_heads", "mamba_n_heads", "mamba_num_heads"))
    w.add_rope_scaling_finetuned(False)
    head_dim = find(hp, "head_dim", "attention_head_dim")
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)


def nemotron_h_moe_params(w: gguf.GGUFWriter, hp: Params, ftype: int) -> None:
    """nemotron_h_moe: the dense keys with the experts' width per expert layer, then the routing keys. A kept
    MTP block has both an attention and an experts part: it counts for both per-layer lists."""
    n_mtp = mtp_blocks(hp)
    kinds = nemotron_h_layers(hp) + ["mtp"] * n_mtp
    n_ff = int(hp["moe_intermediate_size"])
    n_kv = find(hp, "num_key_value_heads", "n_head_kv")
    overrides: Params = {
        "num_hidden_layers": len(kinds),
        "num_key_value_heads": [n_kv if kind in ("attention", "mtp") else 0 for kind in kinds],
        "intermediate_size": [n_ff if kind in ("moe", "mtp") else 0 for kind in kinds],
        "max_position_embeddings": 2**20,
    }
    granite_moe_params(w, {**hp, **overrides}, ftype)
    _nemotron_ssm_and_head_keys(w, hp)
    w.add_expert_feed_forward_length(n_ff)
    w.add_expert_shared_feed_forward_length(int(hp["moe_shared_expert_intermediate_size"]))
    w.add_expert_shared_count(int(hp["n_shared_experts"]))
    w.add_expert_weights_norm(bool(hp["norm_topk_prob"]))
    w.add_expert_weights_scale(float(hp["routed_scaling_factor"]))
    if (latent := hp.get("moe_latent_size")) is not None:
        w.add_moe_latent_size(int(latent))
    if n_mtp:
        w.add_nextn_predict_layers(n_mtp)


# Experts use relu2 (no gate): each layer's up and down projections, merged in that (alphabetical) order.
NEMOTRON_H_EXPERTS = Experts(
    pattern=r"backbone\.layers\.(?P<bid>\d+)\.mixer\.experts\.(?P<xid>\d+)\.(?P<w>\w+)\.weight",
    order=("down_proj", "up_proj"),
    merged="model.layers.{bid}.mlp.experts.{w}.weight",
    count_keys=("n_routed_experts",),
)


def nemotron_h_rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    if ".mixer." not in name:
        return None
    if (pieces := _mamba2_pieces(name, ref)) is not None:
        return pieces
    if name.endswith("mixer.norm.weight"):
        d_inner, n_group = _nemotron_mamba(hp)
        return [Piece(name, None, (n_group, d_inner // n_group))]
    return None


def nemotron_h_prepare(hp: Params, tensors: dict[str, TensorRef]) -> Params:
    """The layer count from the pattern (Transformers 5 saves no num_hidden_layers for Nemotron-H), and the
    MTP blocks to write (N_MTP)."""
    kinds = nemotron_h_layers(hp)
    return {**hp, "num_hidden_layers": len(kinds), N_MTP: _nemotron_mtp_blocks(hp, tensors, "moe" in kinds)}


def _nemotron_mtp_blocks(hp: Params, tensors: dict[str, TensorRef], experts: bool) -> int:
    """Nemotron 3's MTP head (mtp.layers.0: input fusion and attention, mtp.layers.1: experts and the head's
    norm) becomes one block past the trunk, kept by default as llama.cpp's converter keeps it."""
    if hp.get(NO_MTP) or not any(name.startswith("mtp.") for name in tensors):
        n_config = int(hp.get("num_nextn_predict_layers") or 0)
        if n_config and not hp.get(NO_MTP):
            # llama.cpp's converter would announce the block all the same, in a file llama.cpp cannot load
            log.warning("config.json names %d MTP layer(s) but the checkpoint holds none: converted without", n_config)
        return 0
    hint = "convert without it: the no-MTP option (gguf-studio convert --no-mtp), as llama.cpp's --no-mtp does"
    if not experts:
        raise ConvertError("llama.cpp has no multi-token-prediction block for a Nemotron-H without experts", hint=hint)
    if (n := int(hp.get("num_nextn_predict_layers") or 0)) != 1:
        raise ConvertError(f"this Nemotron-H's MTP tensors come with num_nextn_predict_layers {n}, not 1", hint=hint)
    return 1


# The MTP head's tensors that are not its block's usual ones, by their suffix, under the names llama.cpp's
# tensor map knows them by; every other mtp.layers.{0,1}.* tensor is the block's own (backbone.layers.*).
_NEMOTRON_MTP_ROLES = {
    "0.enorm.weight": "enorm.weight",
    "0.hnorm.weight": "hnorm.weight",
    "0.eh_proj.weight": "eh_proj.weight",
    "1.norm.weight": "post_attention_layernorm.weight",  # the experts' norm comes after the attention
    "1.final_layernorm.weight": "shared_head.norm.weight",
}


def nemotron_h_rename(name: str, hp: Params) -> str | None:
    """MTP tensors under the block number llama.cpp gives them (None: left out)."""
    if not name.startswith("mtp."):
        return name
    if not mtp_blocks(hp):
        return None
    block = int(hp["num_hidden_layers"])
    rest = name.removeprefix("mtp.layers.")
    if (role := _NEMOTRON_MTP_ROLES.get(rest)) is not None:
        return f"model.layers.{block}.{role}"
    if rest[:2] in ("0.", "1."):
        return f"backbone.layers.{block}.{rest[2:]}"
    return name  # unknown: the tensor map will say so
