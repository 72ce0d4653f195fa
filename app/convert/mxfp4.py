"""gpt-oss's MXFP4 experts, repacked into GGML's MXFP4 blocks without a detour through floats.

A checkpoint stores each expert row as `_blocks` (16 bytes per 32 values: value 2i in the low nibble of byte i,
value 2i+1 in the high one) and `_scales` (one E8M0 exponent byte per 32 values). GGML's block is the scale byte
then 16 bytes where byte k holds value k low and value k+16 high. Only bits move.
"""

from __future__ import annotations

from typing import Any

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

from app.convert.safetensors_file import TensorRef
from app.core.errors import ConvertError

BLOCK_VALUES = 32
BLOCK_BYTES = 17


def is_mxfp4(hp: dict[str, Any]) -> bool:
    config = hp.get("quantization_config") or {}
    return isinstance(config, dict) and config.get("quant_method") == "mxfp4"


def file_type(hp: dict[str, Any], out: QT) -> gguf.LlamaFileType | None:
    """llama.cpp's converter labels a float output of an MXFP4 checkpoint MOSTLY_MXFP4_MOE."""
    if is_mxfp4(hp) and out in (QT.F32, QT.F16, QT.BF16):
        return gguf.LlamaFileType.MOSTLY_MXFP4_MOE
    return None


def repack(blocks: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(..., n_blocks, 16) code bytes and (..., n_blocks) scales -> (..., n_blocks * 17) GGML MXFP4 bytes."""
    lo = blocks & np.uint8(0x0F)
    hi = blocks >> np.uint8(4)
    values = np.stack((lo, hi), axis=-1).reshape(*blocks.shape[:-1], BLOCK_VALUES)
    codes = values[..., :16] | (values[..., 16:] << np.uint8(4))
    packed = np.concatenate((scales[..., None], codes), axis=-1)
    return packed.reshape(*blocks.shape[:-2], blocks.shape[-2] * BLOCK_BYTES)


def check_pair(blocks: TensorRef, scales: TensorRef) -> tuple[int, ...]:
    """The element shape (experts, rows, values per row) of a blocks/scales pair, checked."""
    if blocks.dtype != "U8" or scales.dtype != "U8":
        raise ConvertError(f"{blocks.name}: MXFP4 blocks and scales must be stored as bytes")
    if len(blocks.shape) != 4 or blocks.shape[-1] != 16 or blocks.shape[:-1] != scales.shape:
        raise ConvertError(f"{blocks.name} {blocks.shape} and its scales {scales.shape} are not MXFP4 blocks")
    n_exp, rows, n_blocks, _ = blocks.shape
    return (n_exp, rows, n_blocks * BLOCK_VALUES)
