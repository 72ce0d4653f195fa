"""Decide, before reading any weight, every tensor the GGUF will hold: name, shape, type and transform."""

from __future__ import annotations

from dataclasses import dataclass

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

from app.convert.architectures import Architecture
from app.convert.checkpoint import Checkpoint
from app.convert.safetensors_file import TensorRef
from app.core.errors import ConvertError

OUT_TYPES: dict[str, QT] = {"f32": QT.F32, "f16": QT.F16, "bf16": QT.BF16, "q8_0": QT.Q8_0}
FILE_TYPES: dict[QT, gguf.LlamaFileType] = {
    QT.F32: gguf.LlamaFileType.ALL_F32,
    QT.F16: gguf.LlamaFileType.MOSTLY_F16,
    QT.BF16: gguf.LlamaFileType.MOSTLY_BF16,
    QT.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0,
}
_UNUSED_SUFFIXES = (".attention.masked_bias", ".attention.bias", ".rotary_emb.inv_freq")
# Tensors of multimodal wrappers that are not part of the language model.
_FOREIGN_PARTS = ("vision_tower.", "vision_model.", "multi_modal_projector.", "audio_tower.", "visual.")


@dataclass(frozen=True, slots=True)
class TensorPlan:
    name: str
    shape: tuple[int, ...]  # numpy (row-major) order; GGUF stores it reversed
    qtype: QT
    source: TensorRef | None
    rows: np.ndarray | None = None  # rows of the source to take, in order (permutation or trim)
    shift: float = 0.0  # added to every value (Gemma norms)
    data: np.ndarray | None = None  # computed tensors (rope factors)

    @property
    def n_cols(self) -> int:
        return self.shape[-1] if self.shape else 1

    @property
    def n_rows(self) -> int:
        n = 1
        for d in self.shape[:-1]:
            n *= d
        return n


def tensor_type(name: str, shape: tuple[int, ...], out: QT) -> QT:
    """llama.cpp keeps 1-D tensors, norms and biases in F32; Q8_0 needs rows of whole blocks."""
    if len(shape) <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return QT.F32
    if out == QT.Q8_0 and shape[-1] % 32 != 0:
        return QT.F16
    return out


def rotary_permutation(n_rows: int, n_heads: int) -> np.ndarray:
    """Row order that turns HF's split-halves rotary layout into llama.cpp's interleaved pairs."""
    half = n_rows // n_heads // 2
    return np.arange(n_rows).reshape(n_heads, 2, half).swapaxes(1, 2).reshape(-1)


def plan_tensors(ckpt: Checkpoint, arch: Architecture, hp: dict, out: QT, n_vocab: int) -> list[TensorPlan]:
    n_blocks = int(hp["num_hidden_layers"])
    names = gguf.get_tensor_name_map(arch.arch, n_blocks)
    plans: list[TensorPlan] = []
    for gname, values in arch.extra_tensors(hp) if arch.extra_tensors else []:
        plans.append(TensorPlan(gname, values.shape, QT.F32, None, data=values))
    for hf_name, ref in ckpt.tensors.items():
        if hf_name.endswith(_UNUSED_SUFFIXES) or any(p in hf_name for p in _FOREIGN_PARTS):
            continue
        name = hf_name.replace("language_model.", "")
        if arch.drop_lm_head and name == "lm_head.weight":
            continue
        mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if mapped is None:
            raise ConvertError(f"tensor {hf_name!r} has no counterpart in llama.cpp's {arch.name} model")
        plans.append(_plan_one(mapped, name, ref, arch, hp, out, n_vocab))
    return plans


def _plan_one(gname: str, name: str, ref: TensorRef, arch: Architecture, hp: dict, out: QT, n_vocab: int) -> TensorPlan:
    if ref.dtype not in ("F32", "F16", "BF16", "F64"):
        raise ConvertError(f"tensor {name!r} is stored as {ref.dtype}; only float weights can be converted")
    shape = ref.shape
    rows: np.ndarray | None = None
    if arch.permute_qk and name.endswith(("q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias")):
        n_head = int(hp["num_attention_heads"])
        if "k_proj" in name:
            n_head = int(hp.get("num_key_value_heads") or n_head)
        rows = rotary_permutation(shape[0], n_head)
    if arch.trim_embeddings and name.endswith("embed_tokens.weight") and shape[0] > n_vocab:
        rows = np.arange(n_vocab)
        shape = (n_vocab, *shape[1:])
    shift = 1.0 if arch.norm_plus_one and name.endswith("norm.weight") else 0.0
    return TensorPlan(gname, shape, tensor_type(gname, shape, out), ref, rows=rows, shift=shift)
