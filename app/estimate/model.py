"""What the memory model needs to know about a model: its attention shape and its weight bytes per layer.

How llama.cpp groups the weights (llama-arch's tensor table, llama-model's load_tensors):

* *input layer*: token embeddings (`token_embd`, `pos_embd`, `token_types`, `per_layer_token_embd`).
  llama.cpp always keeps it in host memory: offloading a row lookup gains nothing.
* *repeating layers*: every `blk.N.*` tensor belongs to layer N. Rope frequency tables and
  `token_embd_norm` are also "repeating" (created with layer 0) — a few KiB, counted in layer 0.
* *output layer*: `output`, `output_norm`, classifier heads and the other head tensors; it is treated
  as layer number `n_layer` for offloading. A model without `output.weight` reuses the token
  embeddings as its head ("tied"): on the host that is the same memory, but when the output layer is
  offloaded llama.cpp places a second copy of the embeddings on the GPU.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from app.core.errors import EstimateError

_INPUT_TENSORS = ("token_embd", "pos_embd", "token_types", "per_layer_token_embd")
_LAYER0_TENSORS = ("rope_freqs", "rope_factors_long", "rope_factors_short", "token_embd_norm")
_BLOCK = re.compile(r"^blk\.(\d+)\.")


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The facts of one model that decide its memory use. Per-layer tuples have `n_layer` entries."""

    arch: str
    n_layer: int
    n_embd: int
    n_vocab: int
    n_ctx_train: int
    n_head: tuple[int, ...]
    n_head_kv: tuple[int, ...]
    head_k: int
    head_v: int
    head_k_swa: int
    head_v_swa: int
    swa_layers: tuple[bool, ...]
    n_swa: int
    mla: bool
    kv_layers: tuple[bool, ...]
    n_ff: tuple[int, ...]
    input_bytes: int
    layer_bytes: tuple[int, ...]
    output_bytes: int
    tied_output_bytes: int
    n_expert: int = 0
    n_expert_used: int = 0

    def __post_init__(self) -> None:
        per_layer = (self.n_head, self.n_head_kv, self.swa_layers, self.kv_layers, self.n_ff, self.layer_bytes)
        if self.n_layer < 1 or any(len(values) != self.n_layer for values in per_layer):
            raise EstimateError(f"inconsistent layer data for a {self.n_layer}-layer {self.arch} model")

    @property
    def weight_bytes(self) -> int:
        """Bytes of all weights as stored in the file (the tied head is not stored twice)."""
        return self.input_bytes + sum(self.layer_bytes) + self.output_bytes

    @property
    def has_swa(self) -> bool:
        return self.n_swa > 0 and any(self.swa_layers)

    def head_sizes(self, il: int) -> tuple[int, int]:
        """Key and value head size of layer `il` (SWA layers may have their own)."""
        if self.swa_layers[il]:
            return self.head_k_swa, self.head_v_swa
        return self.head_k, self.head_v

    def k_width(self, il: int) -> int:
        """Values per cell of layer `il`'s K cache: key head size times KV heads (MLA: latent + rope, 1 head)."""
        return self.head_sizes(il)[0] * self.n_head_kv[il]

    def v_width(self, il: int) -> int:
        return self.head_sizes(il)[1] * self.n_head_kv[il]

    def scaled_weights(self, weight_bytes: int) -> ModelShape:
        """The same model at another quantization known only by its size: every weight group scaled
        by the same factor (the KV cache does not depend on the quantization of the weights)."""
        if weight_bytes <= 0:
            raise EstimateError("a model file size must be positive")
        ratio = weight_bytes / self.weight_bytes
        layers = tuple(round(b * ratio) for b in self.layer_bytes)
        return replace(
            self,
            input_bytes=round(self.input_bytes * ratio),
            layer_bytes=layers,
            output_bytes=round(self.output_bytes * ratio),
            tied_output_bytes=round(self.tied_output_bytes * ratio),
        )


@dataclass(frozen=True, slots=True)
class WeightGroups:
    input_bytes: int
    layer_bytes: tuple[int, ...]
    output_bytes: int
    tied_output_bytes: int


def group_weights(tensors: Iterable[tuple[str, int]], n_layer: int) -> WeightGroups:
    """Sum tensor bytes into input / per-layer / output groups by llama.cpp's placement rules."""
    layers = [0] * n_layer
    input_bytes = output_bytes = 0
    embd_bytes = 0
    has_output_head = False
    for name, n_bytes in tensors:
        base = name.rsplit(".", 1)[0] if name.endswith((".weight", ".bias")) else name
        match = _BLOCK.match(name)
        if match:
            il = int(match.group(1))
            if il >= n_layer:
                raise EstimateError(f"tensor {name} belongs to layer {il} but the model has {n_layer} layers")
            layers[il] += n_bytes
        elif base in _INPUT_TENSORS:
            input_bytes += n_bytes
            if base == "token_embd" and name.endswith(".weight"):
                embd_bytes = n_bytes
        elif base in _LAYER0_TENSORS:
            layers[0] += n_bytes
        else:
            output_bytes += n_bytes
            if base == "output" and name.endswith(".weight"):
                has_output_head = True
    return WeightGroups(
        input_bytes=input_bytes,
        layer_bytes=tuple(layers),
        output_bytes=output_bytes,
        tied_output_bytes=0 if has_output_head else embd_bytes,
    )
