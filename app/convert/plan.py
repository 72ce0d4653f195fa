"""Decide, before reading any weight, every tensor the GGUF will hold: name, shape, type and transform."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

from app.convert import fp8, mxfp4
from app.convert.architectures import Architecture
from app.convert.checkpoint import Checkpoint
from app.convert.experts import ExpertMerger
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
# Kept in F32 whatever the output type, as llama.cpp's converter does (MoE routers, convolutions).
_F32_SUFFIXES = (
    "ffn_gate_inp.weight",
    "ffn_gate_inp_shexp.weight",
    "shortconv.conv.weight",
    "ssm_conv1d.weight",
    "altup_correct_coef.weight",  # Gemma 3n's AltUp coefficients
    "altup_predict_coef.weight",
)


@dataclass(frozen=True, slots=True)
class TensorPlan:
    name: str
    shape: tuple[int, ...]  # numpy (row-major) order; GGUF stores it reversed
    qtype: QT
    source: TensorRef | None
    rows: np.ndarray | None = None  # rows of the source to take, in order (permutation or trim)
    shift: float = 0.0  # added to every value (Gemma norms)
    data: np.ndarray | None = None  # computed tensors (rope factors)
    parts: tuple[TensorRef, ...] = ()  # merged experts: these tensors one after another (source is None)
    transform: Callable[[np.ndarray], np.ndarray] | None = None  # whole-tensor rearrangement (see Piece)
    scales: TensorRef | None = None  # MXFP4: source holds the code blocks, these their exponents
    fp8_scales: tuple[TensorRef, ...] = ()  # FP8: the scales of source (or of each part)
    fp8_block: tuple[int, ...] | None = None  # FP8: rows x columns one scale covers (None: per tensor/row)
    scale: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # arithmetic on the values (see Piece)
    pad_rows: int = 0  # zero rows written after the source's (see Piece); counted in shape

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
    if len(shape) <= 1 or name.endswith(("_norm.weight", *_F32_SUFFIXES)) or not name.endswith(".weight"):
        return QT.F32
    if out == QT.Q8_0 and shape[-1] % 32 != 0:
        return QT.F16
    return out


def rotary_permutation(n_rows: int, n_heads: int) -> np.ndarray:
    """Row order that turns HF's split-halves rotary layout into llama.cpp's interleaved pairs."""
    half = n_rows // n_heads // 2
    return np.arange(n_rows).reshape(n_heads, 2, half).swapaxes(1, 2).reshape(-1)


def plan_tensors(ckpt: Checkpoint, arch: Architecture, hp: dict, out: QT, n_vocab: int) -> list[TensorPlan]:
    n_blocks = int(hp["num_hidden_layers"]) + (arch.extra_blocks(hp) if arch.extra_blocks else 0)
    names = gguf.get_tensor_name_map(arch.arch, n_blocks)
    _add_block_tensors(names, arch.newer_tensors, n_blocks)
    # llama.cpp's converter writes repacked MXFP4 experts before anything else.
    plans: list[TensorPlan] = _mxfp4_plans(ckpt, names, arch) if arch.mxfp4_experts and mxfp4.is_mxfp4(hp) else []
    for gname, values in arch.extra_tensors(hp) if arch.extra_tensors else []:
        plans.append(TensorPlan(gname, values.shape, QT.F32, None, data=values))
    experts = ExpertMerger(arch.experts, hp) if arch.experts else None
    fp8_scales = _fp8_scales(ckpt) if fp8.is_fp8(hp) else {}
    for hf_name, ref in ckpt.tensors.items():
        if hf_name.endswith(_UNUSED_SUFFIXES) or any(p in hf_name for p in _FOREIGN_PARTS):
            continue
        if fp8_scales and (hf_name.endswith(fp8.SCALE_SUFFIX) or fp8.is_unused(hf_name)):
            continue
        renamed: str | None = hf_name.replace("language_model.", "")
        if arch.rename is not None and renamed is not None:
            renamed = arch.rename(renamed, hp)
        if renamed is None:
            continue
        name = renamed
        if name.endswith("e_score_correction_bias"):  # llama.cpp's converter spells the router's bias so
            name = name.replace("e_score_correction_bias", "e_score_correction.bias")
        if arch.drop_lm_head and name == "lm_head.weight":
            continue
        pieces = arch.rewrite(name, ref, hp) if arch.rewrite else None
        if pieces != [] and not (ref.dtype == "F8_E4M3" and hf_name in fp8_scales):
            _check_dtype(name, ref)
        if pieces is None and experts is not None and (merged := experts.add(name, ref)) is not None:
            for m in merged:
                gname = _map(names, m.name, hf_name, arch)
                shape = (len(m.parts), *m.parts[0].shape)
                plans.append(TensorPlan(gname, shape, tensor_type(gname, shape, out), None, parts=m.parts))
            continue
        if pieces is None:
            plans.append(_plan_one(_map(names, name, hf_name, arch), name, ref, arch, hp, out, n_vocab))
            continue
        for piece in pieces:
            gname = piece.name if piece.gguf_name else _map(names, piece.name, hf_name, arch)
            rows = piece.rows
            shape = piece.shape
            qtype = tensor_type(gname, shape, out)
            if piece.data is not None:
                plans.append(TensorPlan(gname, shape, qtype, None, data=piece.data))
            else:
                plans.append(
                    TensorPlan(
                        gname,
                        shape,
                        qtype,
                        ref,
                        rows=rows,
                        transform=piece.transform,
                        scale=piece.scale,
                        pad_rows=piece.pad_rows,
                    )
                )
    if experts is not None:
        experts.finish()
    if fp8_scales:
        block = fp8.block_size(hp)
        plans = [_with_fp8_scales(p, fp8_scales, block) for p in plans]
    return plans


def _fp8_scales(ckpt: Checkpoint) -> dict[str, TensorRef]:
    """Each FP8 weight's scales, by the weight's name."""
    scales = {}
    for name, ref in ckpt.tensors.items():
        if name.endswith(fp8.SCALE_SUFFIX):
            weight = name.removesuffix(fp8.SCALE_SUFFIX)
            if weight not in ckpt.tensors:
                raise ConvertError(f"{name} scales a tensor the checkpoint does not hold")
            scales[weight] = ref
    return scales


def _with_fp8_scales(plan: TensorPlan, scales: dict[str, TensorRef], block: tuple[int, ...] | None) -> TensorPlan:
    sources = plan.parts or ((plan.source,) if plan.source is not None else ())
    if not any(s.dtype == "F8_E4M3" for s in sources):
        return plan
    missing = [s.name for s in sources if s.name not in scales]
    if missing:
        raise ConvertError(f"FP8 tensor {missing[0]!r} has no {fp8.SCALE_SUFFIX} beside it")
    return replace(plan, fp8_scales=tuple(scales[s.name] for s in sources), fp8_block=block)


def _mxfp4_plans(ckpt: Checkpoint, names: gguf.TensorNameMap, arch: Architecture) -> list[TensorPlan]:
    plans = []
    blocks: dict[str, TensorRef] = {}
    for name, ref in ckpt.tensors.items():
        if name.endswith("_blocks"):
            blocks[name.removesuffix("_blocks")] = ref
        elif name.endswith("_scales") and (base := name.removesuffix("_scales")) in blocks:
            block_ref = blocks.pop(base)
            shape = mxfp4.check_pair(block_ref, ref)
            if base.endswith("mlp.experts.down_proj"):
                gname = _map(names, base + ".weight", name, arch)
                plans.append(TensorPlan(gname, shape, QT.MXFP4, block_ref, scales=ref))
            elif base.endswith("mlp.experts.gate_up_proj"):
                n_exp, rows, cols = shape
                index = np.arange(n_exp * rows, dtype=np.int64).reshape(n_exp, rows)
                for proj, picked in (("gate_proj", index[:, ::2]), ("up_proj", index[:, 1::2])):
                    gname = _map(names, base.replace("gate_up_proj", proj) + ".weight", name, arch)
                    half = (n_exp, rows // 2, cols)
                    plans.append(TensorPlan(gname, half, QT.MXFP4, block_ref, rows=picked.reshape(-1), scales=ref))
    return plans


def _add_block_tensors(names: gguf.TensorNameMap, kinds: tuple[gguf.MODEL_TENSOR, ...], n_blocks: int) -> None:
    """Per-block tensors llama.cpp's newer tensor lists give this architecture but the gguf package's lack."""
    for kind in kinds:
        gguf_name = gguf.TENSOR_NAMES[kind]
        for bid in range(n_blocks):
            target = (kind, gguf_name.format(bid=bid))
            names.mapping[target[1]] = target
            for key in gguf.TensorNameMap.block_mappings_cfg.get(kind, ()):
                names.mapping[key.format(bid=bid)] = target


def _map(names: gguf.TensorNameMap, name: str, hf_name: str, arch: Architecture) -> str:
    mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
    if mapped is None:
        raise ConvertError(f"tensor {hf_name!r} has no counterpart in llama.cpp's {arch.name} model")
    return mapped


def _check_dtype(name: str, ref: TensorRef) -> None:
    if ref.dtype not in ("F32", "F16", "BF16", "F64"):
        raise ConvertError(f"tensor {name!r} is stored as {ref.dtype}; only float weights can be converted")


def _plan_one(gname: str, name: str, ref: TensorRef, arch: Architecture, hp: dict, out: QT, n_vocab: int) -> TensorPlan:
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
    shifted = arch.norm_plus_one and name.endswith("norm.weight") and not name.endswith(arch.shift_exempt)
    shift = 1.0 if shifted else 0.0
    return TensorPlan(gname, shape, tensor_type(gname, shape, out), ref, rows=rows, shift=shift)
