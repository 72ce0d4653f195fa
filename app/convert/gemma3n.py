"""Gemma 3n (text): what llama.cpp's converter writes for Gemma3nForCausalLM and the text part of
Gemma3nForConditionalGeneration.

Beyond Gemma 3: AltUp's three projection matrices (and three unembedding ones) stacked into one 3-D tensor each,
the token and per-layer embeddings padded with zero rows up to vocab_size (E2B ships 262144 per-layer rows for
262400 tokens), `*_scale` vectors renamed to `*_scale.weight`, norms kept as stored (no 1 + w), the activation
sparsity targets turned into standard-normal quantiles, and the vision and audio towers left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import gguf
import numpy as np

from app.convert.experts import Experts
from app.convert.pieces import Piece
from app.convert.safetensors_file import TensorRef
from app.convert.text_params import Params
from app.core.errors import ConvertError

# The merged names llama.cpp's tensor map knows; stacked in index order as the new first axis.
ALTUP_STACKS = Experts(
    pattern=r"model\.(?P<w>altup_projections|altup_unembed_projections)\.(?P<xid>\d+)\.weight",
    order=("altup_projections", "altup_unembed_projections"),
    merged="model.{w}.weight",
    count_keys=("altup_num_inputs",),
    count_less=1,
)
WriteParams = Callable[[gguf.GGUFWriter, Params, int], None]
_MULTIMODAL = ("embed_vision.", "embed_audio.")


def check(hp: Params) -> None:
    if int(hp.get("altup_num_inputs") or 0) != 4:
        raise ConvertError(
            f"this Gemma 3n has {hp.get('altup_num_inputs')} AltUp inputs; llama.cpp runs Gemma 3n with 4",
            hint="only the published Gemma 3n shapes (E2B, E4B) convert",
        )


def sparsity_quantile(p: float) -> float:
    """The standard normal's p-quantile as torch computes it in float32 (erfinv of 2p - 1, times sqrt 2): the
    erfinv step rounded to float32 from its exact value, then multiplied in float32."""
    f32 = np.float32
    x = float(f32(2) * f32(p) - f32(1))
    if x <= -1.0:
        return -math.inf
    if x >= 1.0:
        return math.inf
    erfinv = f32(NormalDist().inv_cdf((x + 1.0) / 2.0) / math.sqrt(2.0))
    return float(erfinv * f32(math.sqrt(2.0)))


def write_params(w: gguf.GGUFWriter, hp: Params, ftype: int, *, gemma3_params: WriteParams) -> None:
    """Gemma 3's keys (with a feed-forward width per layer where the config lists them), then Gemma 3n's."""
    gemma3_params(w, hp, ftype)
    w.add_altup_active_idx(int(hp["altup_active_idx"]))
    w.add_altup_num_inputs(int(hp["altup_num_inputs"]))
    w.add_embedding_length_per_layer_input(int(hp["hidden_size_per_layer_input"]))
    w.add_shared_kv_layers(int(hp["num_kv_shared_layers"]))
    w.add_activation_sparsity_scale([sparsity_quantile(float(p)) for p in hp["activation_sparsity_pattern"]])
    w.add_sliding_window_pattern([kind == "sliding_attention" for kind in hp["layer_types"]])


def rename(name: str, _hp: Params) -> str | None:
    if name.startswith(_MULTIMODAL) or any(f".{part}" in name for part in _MULTIMODAL):
        return None
    return name + ".weight" if name.endswith("_scale") else name


def rewrite(name: str, ref: TensorRef, hp: Params) -> list[Piece] | None:
    """Token and per-layer embeddings padded with zero rows up to vocab_size (never trimmed)."""
    if not (name.endswith("embed_tokens.weight") or name.endswith("embed_tokens_per_layer.weight")):
        return None
    n_vocab = int(hp["vocab_size"])
    missing = n_vocab - ref.shape[0]
    if missing <= 0:
        return None
    return [Piece(name, None, (n_vocab, *ref.shape[1:]), pad_rows=missing)]
