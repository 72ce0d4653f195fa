"""app._native's conversion kernels (built by the project's own install) against the numpy reference kernels, bit for
bit. Its imatrix collector is tested with the quantize tests."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

from app import _native
from app.convert import kernels
from app.convert.safetensors_file import bf16_to_f32

SOURCES = {"F32": (0, np.float32), "F16": (1, np.float16), "BF16": (30, np.uint16)}


def _source(dtype: str, shape: tuple[int, int]) -> np.ndarray:
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32) * 2
    x[0, :4] = [0.0, -0.0, 1e-8, 65504.0]
    if dtype == "BF16":
        return (x.view(np.uint32) >> 16).astype(np.uint16)
    return x.astype(SOURCES[dtype][1])


def _reference(src: np.ndarray, dtype: str, qtype: QT, rows: np.ndarray | None, shift: float) -> bytes:
    chunk = src[rows] if rows is not None else src
    x = bf16_to_f32(chunk) if dtype == "BF16" else chunk
    if shift:
        x = x + x.dtype.type(shift)
    return bytes(kernels.convert_rows(x, qtype).tobytes())


@pytest.mark.parametrize("dtype", sorted(SOURCES))
@pytest.mark.parametrize("qtype", [QT.F32, QT.F16, QT.BF16, QT.Q8_0])
@pytest.mark.parametrize("permute", [False, True])
@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_native_matches_reference(dtype: str, qtype: QT, permute: bool, shift: float) -> None:
    src = _source(dtype, (48, 96))
    rows = np.random.default_rng(1).permutation(48).astype(np.int64) if permute else None
    out = np.empty((48, kernels.row_bytes(96, qtype)), dtype=np.uint8)
    _native.convert(src, SOURCES[dtype][0], out, int(qtype), 96, rows=rows, shift=shift, n_threads=3)
    assert out.tobytes() == _reference(src, dtype, qtype, rows, shift)


def test_native_rejects_bad_arguments() -> None:
    src = np.zeros((4, 64), dtype=np.float32)
    with pytest.raises(ValueError):
        _native.convert(src, 0, np.empty((4, 10), np.uint8), int(QT.Q8_0), 64)  # wrong row size
    with pytest.raises(IndexError):
        out = np.empty((1, 64 * 4), np.uint8)
        _native.convert(src, 0, out, int(QT.F32), 64, rows=np.array([9], dtype=np.int64))
    with pytest.raises(ValueError):
        _native.convert(src, 2, np.empty((4, 64), np.uint8), int(QT.F32), 64)  # unsupported source type

