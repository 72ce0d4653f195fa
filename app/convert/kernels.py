"""Row-chunk conversions to the GGUF storage types, bit-exact with ggml's reference code.

The native extension (app._native) does the same work multi-threaded without the GIL for F32/F16/BF16
sources; these numpy versions convert what it does not take (other source types, values computed first) and
are the reference the native kernels are tested against.
"""

from __future__ import annotations

import numpy as np
from gguf import GGMLQuantizationType as QT

Q8_0_BLOCK = 32
Q8_0_BYTES = 34  # fp16 scale + 32 int8


def round_half_away(x: np.ndarray) -> np.ndarray:
    """C's roundf: halves go away from zero (numpy's rint would go to even)."""
    whole = np.trunc(x)
    frac = np.abs(x - whole)  # exact: no 0.49999997 + 0.5 == 1.0 surprise
    return whole + np.copysign((frac >= 0.5).astype(x.dtype), x)


def f32_to_bf16(x: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    is_nan = (bits & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    rounded = (bits.astype(np.uint64) + (np.uint64(0x7FFF) + ((bits >> 16) & 1))) >> 16
    quiet = (bits >> 16) | np.uint32(64)
    return np.where(is_nan, quiet, rounded).astype(np.uint16)


def f32_to_q8_0(x: np.ndarray) -> np.ndarray:
    """Rows of float32 (row length a multiple of 32) -> uint8 rows of Q8_0 blocks."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    rows = x.shape[0] if x.ndim > 1 else 1
    blocks = x.reshape(-1, Q8_0_BLOCK)
    d = np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore"):
        inv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    q = round_half_away(blocks * inv).astype(np.int8)
    out = np.empty((blocks.shape[0], Q8_0_BYTES), dtype=np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8)
    out[:, 2:] = q.view(np.uint8)
    return out.reshape(rows, -1)


def convert_rows(x: np.ndarray, qtype: QT) -> np.ndarray:
    """Convert a float16/float32 block of rows to the bytes GGUF stores for `qtype`."""
    if qtype == QT.F32:
        return np.ascontiguousarray(x, dtype=np.float32)
    if qtype == QT.F16:
        return np.ascontiguousarray(x, dtype=np.float16)
    if qtype == QT.BF16:
        return f32_to_bf16(x.astype(np.float32, copy=False))
    if qtype == QT.Q8_0:
        return f32_to_q8_0(x.astype(np.float32, copy=False))
    raise ValueError(f"unsupported output type {qtype.name}")


def row_bytes(n_cols: int, qtype: QT) -> int:
    if qtype == QT.F32:
        return n_cols * 4
    if qtype in (QT.F16, QT.BF16):
        return n_cols * 2
    if qtype == QT.Q8_0:
        return n_cols // Q8_0_BLOCK * Q8_0_BYTES
    if qtype == QT.MXFP4:  # only ever copied from an MXFP4 checkpoint (app.convert.mxfp4)
        return n_cols // 32 * 17
    raise ValueError(f"unsupported output type {qtype.name}")
