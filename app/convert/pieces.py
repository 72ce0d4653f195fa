"""Checkpoint tensors that llama.cpp takes apart: fused projections split into the tensors it names separately.

A piece is a selection of the source's rows (rows = the last axis's vectors), so splitting costs no copy: the
writer reads just those rows, in that order, while it streams the tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.convert.safetensors_file import TensorRef


@dataclass(frozen=True, slots=True)
class Piece:
    name: str  # a checkpoint-style name llama.cpp's tensor map knows, or a GGUF name when gguf_name is set
    rows: np.ndarray | None  # rows of the source (flattened to 2-D over its last axis) to take, in order
    shape: tuple[int, ...]  # numpy order
    gguf_name: bool = False
    # Where rows alone cannot express it (a transpose): the output computed from the whole source tensor,
    # still one tensor in memory at a time. Values are moved, never changed (applied to the stored values).
    transform: Callable[[np.ndarray], np.ndarray] | None = None
    # A small tensor whose values llama.cpp's converter computes (Mamba's A = -exp(A_log)): the result itself.
    data: np.ndarray | None = None
    # Arithmetic llama.cpp's converter does on the values (Falcon-H1's multipliers): (values as it computes
    # with them, their source row numbers) -> new values. Such a tensor is converted row block by row block.
    scale: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    # Zero rows after the source's (Gemma 3n's embeddings padded to the vocabulary); counted in shape.
    pad_rows: int = 0


# (checkpoint name, tensor, hyper-parameters) -> the pieces it becomes ([] drops it), or None: convert as is.
Rewrite = Callable[[str, TensorRef, dict[str, Any]], list[Piece] | None]


def split_rows(ref: TensorRef, sizes: list[int]) -> list[tuple[np.ndarray, tuple[int, ...]]]:
    """Split along the second-to-last axis (the first of a 2-D matrix, per expert for a 3-D stack) into
    consecutive chunks of `sizes`: for each chunk its row indices and shape."""
    shape = ref.shape
    if len(shape) < 2 or sum(sizes) != shape[-2]:
        raise ValueError(f"cannot split {ref.name} {shape} into {sizes}")
    lead = int(np.prod(shape[:-2], dtype=np.int64)) if len(shape) > 2 else 1
    total = shape[-2]
    out = []
    start = 0
    for size in sizes:
        rows = (np.arange(lead, dtype=np.int64)[:, None] * total + start + np.arange(size, dtype=np.int64)).reshape(-1)
        out.append((rows, (*shape[:-2], size, shape[-1])))
        start += size
    return out
