"""Predicted size of a quant before it exists, and whether it will fit this machine.

`predict_size` applies the gist of llama.cpp's type choice to every tensor of a GGUF header (or of a
Hugging Face checkpoint) with the ggml type table: instant, within a few percent. `exact_size` asks
llama.cpp itself (`llama_model_quantize` in dry-run mode), which needs a GGUF and takes a fraction of a second.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import QuantizeError
from app.process import native_log
from app.quantize import llama_api
from app.quantize.types import QuantType

# Kept as they are by llama.cpp's quantize, whatever the architecture (its RWKV rules left out: we convert none).
_F32_ALWAYS = (
    "_norm.weight", "pos_embd.weight", "token_types.weight", "ffn_gate_inp.weight", "rope_", "ffn_gate_tid2eid.weight",
    "altup", "laurel", "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "attn_rel_b.weight",
)
_MORE_BITS = re.compile(r"\.(attn_v|ffn_down)\.weight$")
_QUANT_SIZE = re.compile(r"quant size\s*=\s*([\d.]+) MiB")
_ALIGNMENT = 32  # GGUF's default data alignment, which llama.cpp's quantize keeps
_FILE_TYPE = re.compile(r"\bgeneral\.file_type\s+u32\s*=\s*(\d+)")


if TYPE_CHECKING:
    from app.gguf.reader import GGUFHeader
    from app.gguf.types import GGMLType


def ggml_types_by_name() -> dict[str, GGMLType]:
    # app.gguf (its whole package) loads only when a prediction is made: a job's dry run does not need it.
    from app.gguf.types import ggml_types_by_name as table

    return table()


@dataclass(frozen=True, slots=True)
class TensorShape:
    name: str  # GGUF name
    shape: tuple[int, ...]  # ne0 (row length) first
    type_name: str  # current ggml type


def _nbytes(shape: tuple[int, ...], type_name: str) -> int:
    t = ggml_types_by_name()[type_name]
    n = 1
    for d in shape:
        n *= d
    return n // t.block_size * t.type_size


def _fits(shape: tuple[int, ...], type_name: str) -> bool:
    return shape[0] % ggml_types_by_name()[type_name].block_size == 0


# llama.cpp's replacement when a row is not whole blocks of the wanted type.
_FALLBACK = {
    **dict.fromkeys(("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "IQ4_XS"), "IQ4_NL"),
    **dict.fromkeys(("Q2_0", "Q2_K", "Q3_K", "TQ1_0", "TQ2_0"), "Q4_0"),
    "Q4_K": "Q5_0",
    "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
}
_LOW_BIT_OUTPUT = ("IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ2_S", "IQ2_M", "IQ1_M")


def _output_type(t: TensorShape, q: QuantType) -> str:
    if q.name == "MXFP4_MOE" or not _fits(t.shape, q.base):
        return "Q8_0"
    if q.name in _LOW_BIT_OUTPUT:
        return "Q5_K"
    return q.base if q.base == "Q8_0" or ggml_types_by_name()[q.base].bits_per_weight > 8 else "Q6_K"


def _n_dims(shape: tuple[int, ...]) -> int:
    """ggml's count of dimensions: trailing ones do not count (a {256, 1} tensor is one row)."""
    n = len(shape)
    while n > 1 and shape[n - 1] == 1:
        n -= 1
    return n


def _target(t: TensorShape, q: QuantType, has_output: bool, pure: bool) -> str:
    if _n_dims(t.shape) < 2 or not t.name.endswith(".weight") or any(k in t.name for k in _F32_ALWAYS):
        return t.type_name
    base = q.base
    is_output = t.name == "output.weight" or (not has_output and t.name == "token_embd.weight")
    if not pure and is_output:
        base = _output_type(t, q)
    elif not pure and q.name.endswith("_K_M") and _MORE_BITS.search(t.name):
        base = "Q6_K" if q.name != "Q3_K_M" else "Q5_K"
    if not _fits(t.shape, base):
        base = _FALLBACK.get(base, base)
        if not _fits(t.shape, base):
            base = "F16"
    return base


def predict_size(tensors: Iterable[TensorShape], q: QuantType, pure: bool = False, overhead: int = 0) -> int:
    items = list(tensors)
    has_output = any(t.name == "output.weight" for t in items)
    total = overhead
    for t in items:
        nbytes = _nbytes(t.shape, _target(t, q, has_output, pure))
        total += nbytes + (-nbytes) % _ALIGNMENT  # each tensor's data starts aligned
    return total


def header_tensors(path: Path) -> tuple[list[TensorShape], int]:
    """Tensors of a GGUF file and the bytes before its data (kept as they are by quantization)."""
    from app.gguf.reader import read_header

    return tensors_of(read_header(path))


def tensors_of(header: GGUFHeader) -> tuple[list[TensorShape], int]:
    tensors = [TensorShape(t.name, tuple(t.shape), t.type_name) for t in header.tensors]
    return tensors, header.data_offset


@dataclass(frozen=True, slots=True)
class DryRun:
    size_bytes: int  # llama.cpp's own figure for the quantized tensors
    file_type: int | None  # the source's general.file_type, as llama.cpp's loader read it


def exact_size(path: Path, q: QuantType, pure: bool = False) -> int:
    """llama.cpp's own figure for the quantized tensors (dry run: nothing is written)."""
    return dry_run(path, q, pure).size_bytes


def dry_run(path: Path, q: QuantType, pure: bool = False) -> DryRun:
    """The size, and from the same pass the source's file type (reading the header again in Python costs
    as much as the dry run itself on a large vocabulary)."""
    lib = llama_api.llama()
    params = lib.llama_model_quantize_default_params()
    params.ftype = q.ftype
    params.pure = pure
    params.allow_requantize = True
    params.dry_run = True
    with native_log.captured(lambda _level, _line: None) as lines:
        rc = lib.llama_model_quantize(str(path).encode(), b"", ctypes.byref(params))
    file_type = next((int(m.group(1)) for line in lines if (m := _FILE_TYPE.search(line)) is not None), None)
    for line in reversed(lines):
        if (m := _QUANT_SIZE.search(line)) is not None and rc == 0:
            return DryRun(int(float(m.group(1)) * 1024 * 1024), file_type)
    raise QuantizeError(f"llama.cpp could not plan {q.name} for {path.name}")


def checkpoint_tensors(folder: Path, no_mtp: bool = False) -> tuple[list[TensorShape], int]:
    """The tensors a Hugging Face folder converts to (GGUF names and order) and the converted file's header
    bytes (its vocabulary is most of them), without reading weights; `no_mtp`: converted without its
    multi-token-prediction layers."""
    from app.convert.converter import planned_layout

    plans, header_bytes = planned_layout(folder, no_mtp=no_mtp)
    return [TensorShape(p.name, tuple(reversed(p.shape)), p.qtype.name) for p in plans], header_bytes


def source_tensors(source: Path) -> tuple[list[TensorShape], int]:
    """Tensors and header bytes of a GGUF file or a Hugging Face folder."""
    if source.is_dir():
        return checkpoint_tensors(source)
    return header_tensors(source)
