"""FP8 checkpoints (DeepSeek V3, Qwen3 FP8, Ministral 3): E4M3 weights with float scales per block of
weight_block_size (or per tensor / per row), dequantized exactly as llama.cpp's converter does: each code's
value times its block's scale, one float32 multiplication, then the usual conversion to the output type.

Rows are dequantized as they are written: only one block of rows of one tensor is ever in float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.core.errors import ConvertError


def _e4m3_values() -> np.ndarray:
    """float32 value of each of the 256 E4M3 (fn) codes: bias 7, no infinities, S.1111.111 is NaN."""
    codes = np.arange(256, dtype=np.uint32)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    exp = (codes >> 3) & 0x0F
    man = (codes & 0x07).astype(np.float64)
    normal = (1.0 + man / 8.0) * np.exp2(exp.astype(np.float64) - 7.0)
    subnormal = (man / 8.0) * np.exp2(-6.0)
    values = sign * np.where(exp == 0, subnormal, normal)
    values[(codes & 0x7F) == 0x7F] = np.nan
    return values.astype(np.float32)


E4M3 = _e4m3_values()
SCALE_SUFFIX = "_scale_inv"  # weight = codes x weight_scale_inv
_UNUSED_SUFFIXES = (".activation_scale", "_activation_scale")


def is_fp8(hp: dict[str, Any]) -> bool:
    config = hp.get("quantization_config") or {}
    return isinstance(config, dict) and config.get("quant_method") == "fp8"


def block_size(hp: dict[str, Any]) -> tuple[int, ...] | None:
    block = (hp.get("quantization_config") or {}).get("weight_block_size")
    return tuple(int(b) for b in block) if block else None


def is_unused(name: str) -> bool:
    """Activation scales: the dequantized model does not need them."""
    return name.endswith(_UNUSED_SUFFIXES)


def dequantize_rows(
    codes: np.ndarray, row_ids: np.ndarray, scale: np.ndarray, block: tuple[int, ...] | None
) -> np.ndarray:
    """float32 values of `codes` (rows of one 2-D weight, those numbered `row_ids`) given the weight's scales."""
    values = E4M3[codes]
    n_cols = codes.shape[-1]
    if block is not None:
        if len(block) != 2 or scale.ndim != 2:
            raise ConvertError(f"FP8 block size {block} with scales of shape {scale.shape} is not supported")
        per_row = scale[row_ids // block[0]]
        factors = np.repeat(per_row, block[1], axis=1)[:, :n_cols]
    elif scale.ndim == 0 or scale.size == 1:
        factors = scale.reshape(1, 1)
    else:  # one scale per row
        factors = scale.reshape(-1)[row_ids][:, None]
    return values * factors.astype(np.float32, copy=False)
