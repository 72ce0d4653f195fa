"""Gemma 4 (text; dense, and with experts as 26B-A4B): what llama.cpp's converter writes for Gemma4ForCausalLM
and the text part of Gemma4ForConditionalGeneration.

Beyond Gemma 3: norms kept as stored (no 1 + w), the full-attention layers' own head width and KV head count
(from `global_head_dim` or `per_layer_config`), a rotary width per layer kind, the per-layer `layer_scalar`
renamed to a weight, the router's two scale vectors under GGUF names of their own (the stacked experts are
written as stored, gate and up still fused), and a rope_freqs tensor that switches off the unrotated dimensions
of the full layers' "proportional" rope (ggml's neox rope rotates a leading block only, so the others get a 1e30
frequency factor).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import gguf
import numpy as np

from app.convert.pieces import Piece
from app.convert.safetensors_file import TensorRef
from app.convert.text_params import Params
from app.core.errors import ConvertError

WriteParams = Callable[[gguf.GGUFWriter, Params, int], None]
_MULTIMODAL = ("embed_vision.", "embed_audio.")


def check(hp: Params) -> None:
    full = ((hp.get("rope_parameters") or {}).get("full_attention") or {}).get("rope_type")
    if full != "proportional":
        raise ConvertError(
            f"this Gemma 4's full-attention rope is {full!r}; llama.cpp converts 'proportional'", hint=_PUBLISHED
        )
    if _full_layer_value(hp, "global_head_dim", "head_dim") is None:
        raise ConvertError("config.json gives no head width for Gemma 4's full-attention layers", hint=_PUBLISHED)


_PUBLISHED = "only Gemma 4 configurations as Google publishes them convert (llama.cpp's converter asserts the same)"


def _full_layer_value(hp: Params, top_key: str, layer_key: str) -> int | None:
    """A full-attention layer's value: the config's top-level key, else the first full layer's entry in
    per_layer_config (in the config's order, as llama.cpp's converter reads it)."""
    if (value := hp.get(top_key)) is not None:
        return int(value)
    kinds = hp.get("layer_types") or []
    for index, entry in (hp.get("per_layer_config") or {}).items():
        i = int(index)
        if i < len(kinds) and kinds[i] == "full_attention" and layer_key in entry:
            return int(entry[layer_key])
    return None


def write_params(w: gguf.GGUFWriter, hp: Params, ftype: int, *, gemma3_params: WriteParams) -> None:
    """Gemma 3's keys, then Gemma 4's (some of them overwrite Gemma 3's in place, as the reference does)."""
    gemma3_params(w, hp, ftype)
    n_layer = int(hp["num_hidden_layers"])
    n_shared = int(hp["num_kv_shared_layers"])
    w.add_shared_kv_layers(n_shared)
    w.add_embedding_length_per_layer_input(int(hp.get("hidden_size_per_layer_input") or 0))
    swa = [kind == "sliding_attention" for kind in hp["layer_types"]]
    w.add_sliding_window_pattern(swa)
    head_full = _full_layer_value(hp, "global_head_dim", "head_dim")
    if head_full is None:
        raise ConvertError("config.json gives no head width for Gemma 4's full-attention layers", hint=_PUBLISHED)
    head_swa = int(hp["head_dim"])
    w.add_key_length(head_full)
    w.add_value_length(head_full)
    w.add_key_length_swa(head_swa)
    w.add_value_length_swa(head_swa)
    if (n_ff_exp := hp.get("expert_intermediate_size", hp.get("moe_intermediate_size"))) is not None:
        w.add_expert_feed_forward_length(int(n_ff_exp))
    if hp.get("use_double_wide_mlp"):
        n_ff = int(hp["intermediate_size"])
        w.add_feed_forward_length([n_ff if i < n_layer - n_shared else 2 * n_ff for i in range(n_layer)])
    n_kv_full = _full_layer_value(hp, "num_global_key_value_heads", "num_key_value_heads")
    if n_kv_full is not None and (n_kv_swa := hp.get("num_key_value_heads")) is not None:
        w.add_head_count_kv([int(n_kv_swa) if is_swa else n_kv_full for is_swa in swa])
    # the sliding layers' factor is read where llama.cpp's converter reads it: the top of rope_parameters
    partial_swa = float((hp.get("rope_parameters") or {}).get("partial_rotary_factor", 1.0))
    w.add_rope_dimension_count(head_full)  # the full layers' partial rotation lives in rope_freqs
    w.add_rope_dimension_count_swa(int(head_swa * partial_swa))


def rope_freqs(hp: Params) -> list[tuple[str, np.ndarray]]:
    """Factor 1 for the rotated pairs of a full-attention head, 1e30 (no rotation) for the others."""
    check(hp)  # conversions reach this first: a config we cannot convert stops here too, not only on the pages
    full = hp["rope_parameters"]["full_attention"]
    head_full = int(_full_layer_value(hp, "global_head_dim", "head_dim") or 0)
    n_rot = int(head_full * full["partial_rotary_factor"] / 2)
    n_unrot = int(head_full / 2) - n_rot
    values = np.array([1.0] * n_rot + [1e30] * n_unrot, dtype=np.float32)
    return [(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", values)]


def rename(name: str, _hp: Params) -> str | None:
    """The multimodal wrapper's embedders are left out (the towers are, for every family, in plan.py); the
    stacked experts (26B-A4B), stored without a suffix, get `.weight` for the tensor map."""
    if name.startswith(_MULTIMODAL) or any(f".{part}" in name for part in _MULTIMODAL):
        return None
    if name.endswith(("per_dim_scale", "layer_scalar")) or (".experts." in name and not name.endswith(".weight")):
        return name + ".weight"
    return name


_ROUTER_SCALES = {"router.scale": "ffn_gate_inp.scale", "router.per_expert_scale": "ffn_down_exps.scale"}


def rewrite(name: str, ref: TensorRef, _hp: Params) -> list[Piece] | None:
    """The router's input scale and its per-expert output scale: GGUF names the tensor map lacks."""
    match = re.fullmatch(r"model\.layers\.(\d+)\.(router\.(?:per_expert_)?scale)", name)
    if match is None:
        return None
    return [Piece(f"blk.{match[1]}.{_ROUTER_SCALES[match[2]]}", None, ref.shape, gguf_name=True)]
