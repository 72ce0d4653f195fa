"""Dense, MoE, MLA and sliding-window transformers: one writer, driven by a recipe per architecture.

A recipe (recipes.py) lists the tensors the pinned llama.cpp's load_arch_tensors asks for when it loads
the architecture at the tiny default shape (src/models/<arch>.cpp): the top-level tensors, then each
block's tensors with their ggml shape and, where not every layer has it, the layers that do. Shapes are
written in symbols of the spec — E n_embd, V n_vocab, F n_ff, FE n_ff_exp, X n_expert, D head_dim,
K head_dim × n_head_kv — and literal numbers for the sizes llama.cpp derives another way (a LoRA rank, a
per-layer-embedding width): those fit the default shape (`TRANSFORMER_SPEC`), which the recipes were
made for. Only the tensors llama.cpp requires are listed (no optional biases), so the files are minimal.

With `n_nextn` the last blocks become multi-token-prediction blocks: the last trunk block's tensors plus
the NextN projection and norms, which the MTP architectures create and then skip (model.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.gguf.synthetic_arch.base import ArchSpec, Layout, per_layer

# The shape the recipes were made at (n_ff, n_expert and n_ff_exp other than ArchSpec's defaults).
TRANSFORMER_SPEC = ArchSpec("llama", n_ff=96, n_expert=8, n_ff_exp=48)


@dataclass(frozen=True, slots=True)
class Recipe:
    """`top` and `blocks`: space-separated `name:dims[@layers]` entries (dims comma-separated symbols
    or numbers in ggml order; layers comma-separated, default every trunk layer). `meta`: header keys
    beyond the common ones, as (suffix after "<arch>.", value); a key with a "/" prefix is written as is."""

    top: str
    blocks: str
    moe: bool = False
    meta: tuple[tuple[str, Any], ...] = ()


def _dims(text: str, symbols: dict[str, int]) -> tuple[int, ...]:
    return tuple(symbols[x] if x in symbols else int(x) for x in text.split(","))


def _entries(text: str, symbols: dict[str, int]) -> list[tuple[str, tuple[int, ...], tuple[int, ...] | None]]:
    out = []
    for entry in text.split():
        name, _, rest = entry.partition(":")
        dims, _, layers = rest.partition("@")
        out.append((name, _dims(dims, symbols), tuple(int(x) for x in layers.split(",")) if layers else None))
    return out


def transformer(lay: Layout, recipe: Recipe) -> None:
    s = lay.spec
    kv = per_layer(s.n_head_kv, s.n_layer)[0]
    n_ff = per_layer(s.n_ff, s.n_layer)[0]
    lay.key("context_length", s.context_length)
    lay.key("embedding_length", s.n_embd)
    lay.key("block_count", s.n_layer)
    lay.key("feed_forward_length", n_ff)
    lay.key("attention.head_count", s.n_head)
    lay.key("attention.head_count_kv", kv)
    lay.key("attention.layer_norm_rms_epsilon", 1e-5)
    lay.key("attention.layer_norm_epsilon", 1e-5)
    lay.key("rope.dimension_count", s.head_dim)
    if recipe.moe:
        lay.moe_keys()
    if s.n_nextn:
        lay.key("nextn_predict_layers", s.n_nextn)
    for key, value in recipe.meta:
        if key.startswith("/"):
            lay.meta[key[1:]] = value
        else:
            lay.key(key, value)
    symbols = {"E": s.n_embd, "V": s.n_vocab, "F": n_ff, "FE": s.n_ff_exp, "X": s.n_expert, "D": s.head_dim}
    symbols["K"] = s.head_dim * kv
    for name, dims, _ in _entries(recipe.top, symbols):
        lay.add(name, *dims)
    trunk = s.n_layer - s.n_nextn
    blocks = _entries(recipe.blocks, symbols)
    for il in range(s.n_layer):
        source = min(il, trunk - 1)  # an MTP block repeats the last trunk block
        for name, dims, layers in blocks:
            if layers is None or source in layers:
                lay.blk(il, name, *dims)
        if il >= trunk:
            lay.nextn(il)
