"""GGUF file-name conventions: split parts, quant labels, projector and importance-matrix files.

Names are only hints (a file's own header is the truth); the Hub lists files before any header is read,
so these help group and label them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SplitName:
    """`stem-00002-of-00003.gguf` -> stem, number 2 (1-based, as in the name), count 3."""

    stem: str
    number: int
    count: int

    def part_name(self, number: int) -> str:
        return split_file_name(self.stem, number, self.count)


def parse_split(file_name: str) -> SplitName | None:
    """The split suffix of a file name (llama.cpp's `PREFIX-%05d-of-%05d.gguf`), None if it has none."""
    m = _SPLIT.match(file_name.rsplit("/", 1)[-1])
    if m is None:
        return None
    number, count = int(m["no"]), int(m["count"])
    if not 1 <= number <= count:
        return None
    return SplitName(m["stem"], number, count)


def split_file_name(stem: str, number: int, count: int) -> str:
    """Name of part `number` (1-based) of `count`."""
    return f"{stem}-{number:05d}-of-{count:05d}.gguf"


# Labels seen in file names beyond llama.cpp's own file types: "XL" dynamic mixes, MoE variants.
_EXTRA_LABELS = ("Q2_K_XL", "Q3_K_XL", "Q4_K_XL", "Q5_K_XL", "Q6_K_XL", "Q8_K_XL", "IQ1_S", "IQ2_M", "MXFP4")


@cache
def _label_pattern() -> re.Pattern[str]:
    from app.gguf.types import file_type_labels, ggml_types

    labels = set(file_type_labels().values()) | {t.name for t in ggml_types().values()} | set(_EXTRA_LABELS)
    labels -= {"I8", "I16", "I32", "I64", "Q8_K", "Q8_1"}  # never a file's quantization
    alternatives = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    return re.compile(rf"(?:^|[-_.])(?P<label>{alternatives})(?=$|[-_.])", re.IGNORECASE)


def quant_label(file_name: str) -> str | None:
    """Quantization label in a file name, upper-case: "model-Q4_K_M.gguf" -> "Q4_K_M", "x.bf16.gguf" -> "BF16".

    The last label wins ("Llama-3-8B-F16-Q4_K_M.gguf" is a Q4_K_M); MXFP4_MOE reads as MXFP4.
    """
    name = file_name.rsplit("/", 1)[-1]
    split = parse_split(name)
    if split is not None:
        name = split.stem
    elif name.lower().endswith(".gguf"):
        name = name[: -len(".gguf")]
    found = [m["label"].upper() for m in _label_pattern().finditer(name)]
    if not found:
        return None
    label = found[-1]
    return "MXFP4" if label == "MXFP4_MOE" else label


def is_mmproj(file_name: str) -> bool:
    """A multimodal projector ("mmproj-model-f16.gguf"), not a language model."""
    return "mmproj" in file_name.rsplit("/", 1)[-1].lower()


def is_imatrix(file_name: str) -> bool:
    """An importance-matrix file ("imatrix.dat", "model.imatrix.gguf", "imatrix_unsloth.gguf")."""
    name = file_name.rsplit("/", 1)[-1].lower()
    return "imatrix" in name and (name.endswith((".gguf", ".dat")) or name.endswith("imatrix"))


def is_model_file(file_name: str) -> bool:
    """A GGUF file that holds a language model (or a part of one)."""
    name = file_name.rsplit("/", 1)[-1]
    return name.lower().endswith(".gguf") and not is_mmproj(name) and not is_imatrix(name)
