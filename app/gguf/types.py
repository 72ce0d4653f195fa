"""The ggml tensor type table and llama.cpp's file-type names, built from the `gguf` package's constants.

The installed `gguf` package may trail the pinned llama.cpp by a few types; `_PINNED_CORRECTIONS` lists
exactly those differences (checked against ggml/include/ggml.h and ggml-common.h of the pinned version).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from app.core.errors import GGUFError
from app.gguf._constants import gguf_constants

GGML_MAX_DIMS = 4
GGML_MAX_NAME = 64  # tensor names must be shorter than this (ggml.h)
GGUF_DEFAULT_ALIGNMENT = 32
INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class GGMLType:
    """One ggml tensor type: `block_size` elements are stored in `type_size` bytes."""

    id: int
    name: str
    block_size: int
    type_size: int

    @property
    def bits_per_weight(self) -> float:
        return self.type_size * 8 / self.block_size

    @property
    def quantized(self) -> bool:
        return self.block_size > 1


# (id, name, elements per block, bytes per block) where the pinned llama.cpp differs from `gguf` 0.19:
# Q2_0 is new there, and Q8_1 packs two halves (d, s) before 32 int8 quants, i.e. 36 bytes.
_PINNED_CORRECTIONS: tuple[tuple[int, str, int, int], ...] = (
    (9, "Q8_1", 32, 2 * 2 + 32),
    (42, "Q2_0", 64, 2 + 64 // 4),
)
# (LLAMA_FTYPE value, label) that the pinned llama.h has and `gguf` 0.19 lacks.
_PINNED_FILE_TYPES: tuple[tuple[int, str], ...] = ((41, "Q2_0"),)


@cache
def ggml_types() -> dict[int, GGMLType]:
    """Every ggml type the pinned llama.cpp can store in a GGUF file, by id."""
    c = gguf_constants()
    table = {int(t): GGMLType(int(t), t.name, block, size) for t, (block, size) in c.GGML_QUANT_SIZES.items()}
    for type_id, name, block, size in _PINNED_CORRECTIONS:
        table[type_id] = GGMLType(type_id, name, block, size)
    return dict(sorted(table.items()))


@cache
def ggml_types_by_name() -> dict[str, GGMLType]:
    """The same table keyed by upper-case name (`"Q4_K"`, `"BF16"`)."""
    return {t.name: t for t in ggml_types().values()}


def ggml_type(type_id: int) -> GGMLType:
    """The type with this id; `GGUFError` for ids the pinned llama.cpp does not know (or removed)."""
    found = ggml_types().get(type_id)
    if found is None:
        raise GGUFError(f"unknown ggml tensor type {type_id}")
    return found


def ggml_type_name(type_id: int) -> str:
    """Name of a type id, or `"type N"` for an unknown one (for display only)."""
    found = ggml_types().get(type_id)
    return found.name if found else f"type {type_id}"


def tensor_nbytes(shape: tuple[int, ...], type_id: int) -> int:
    """Bytes of a tensor of this shape (ne0 first) and type. The row length must be whole blocks."""
    t = ggml_type(type_id)
    n_elements = 1
    for dim in shape:
        if dim < 0:
            raise GGUFError(f"negative dimension {dim} in shape {shape}")
        n_elements *= dim
    row = shape[0] if shape else 1
    if row % t.block_size:
        raise GGUFError(f"row length {row} of a {t.name} tensor is not a multiple of its block size {t.block_size}")
    return n_elements // t.block_size * t.type_size


@cache
def file_type_labels() -> dict[int, str]:
    """`general.file_type` (LLAMA_FTYPE) value -> label: 15 -> "Q4_K_M", 0 -> "F32", 1 -> "F16"."""
    labels: dict[int, str] = {}
    for member in gguf_constants().LlamaFileType:
        name = member.name
        if name == "GUESSED":
            continue
        for prefix in ("MOSTLY_", "ALL_"):
            if name.startswith(prefix):
                name = name[len(prefix) :]
        labels[int(member)] = name
    for value, label in _PINNED_FILE_TYPES:
        labels.setdefault(value, label)
    return labels


def file_type_label(value: int) -> str | None:
    """Label of a `general.file_type` value, None for values llama.cpp does not define."""
    return file_type_labels().get(value)
