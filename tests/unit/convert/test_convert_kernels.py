"""Our conversion kernels against ggml's reference behaviour (as gguf-py reproduces it bit for bit)."""

from __future__ import annotations

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT

from app.convert import kernels
from app.convert.plan import rotary_permutation, tensor_type


def _values(seed: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32) * 3
    x[0, :32] = np.linspace(-63.5, 63.5, 32, dtype=np.float32) / 63.5 * 127 / 127  # exact halves after scaling
    x[1, :32] = 0.0  # an all-zero block
    x[2, 5] = 1e-30  # tiny values
    return x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_q8_0_is_bit_exact_with_reference(seed: int) -> None:
    x = _values(seed, (8, 256))
    ours = kernels.convert_rows(x, QT.Q8_0)
    ref = gguf.quants.quantize(x, QT.Q8_0)
    assert ours.shape == (8, 256 // 32 * 34)
    assert ours.tobytes() == ref.tobytes()


def test_q8_0_rounds_halves_away_from_zero() -> None:
    x = np.zeros((1, 32), dtype=np.float32)
    x[0, 0] = 127.0  # scale 1.0
    x[0, 1:5] = [2.5, -2.5, 0.5, -0.5]
    q = kernels.convert_rows(x, QT.Q8_0)[0, 2:].view(np.int8)
    assert list(q[:5]) == [127, 3, -3, 1, -1]


def test_bf16_rounds_to_nearest_even_and_quiets_nan() -> None:
    x = np.array([[1.0, 1.00390625, 1.01171875, -2.5, np.inf, -np.inf, np.nan, 3.0e38]], dtype=np.float32)
    ours = kernels.convert_rows(x, QT.BF16)
    ref = gguf.quants.quantize(x, QT.BF16).view(np.uint16)
    assert ours.tobytes() == ref.tobytes()
    assert ours[0, 6] & 0x40  # NaN stays NaN (quiet bit set)


def test_f16_and_f32_are_plain_casts() -> None:
    x = _values(3, (4, 64))
    assert kernels.convert_rows(x, QT.F16).tobytes() == x.astype(np.float16).tobytes()
    assert kernels.convert_rows(x.astype(np.float16), QT.F32).dtype == np.float32


def test_row_bytes() -> None:
    assert kernels.row_bytes(256, QT.Q8_0) == 8 * 34
    assert kernels.row_bytes(10, QT.BF16) == 20


def test_rotary_permutation_interleaves_halves() -> None:
    # 2 heads of 4 rows: [a0 a1 b0 b1] per head -> [a0 b0 a1 b1]
    assert list(rotary_permutation(8, 2)) == [0, 2, 1, 3, 4, 6, 5, 7]


def test_tensor_types_follow_llama_cpp_rules() -> None:
    assert tensor_type("blk.0.attn_norm.weight", (64,), QT.Q8_0) == QT.F32
    assert tensor_type("blk.0.attn_q_norm.weight", (64,), QT.F16) == QT.F32
    assert tensor_type("blk.0.attn_q.bias", (64,), QT.F16) == QT.F32
    assert tensor_type("blk.0.attn_q.weight", (64, 64), QT.Q8_0) == QT.Q8_0
    assert tensor_type("blk.0.attn_q.weight", (64, 48), QT.Q8_0) == QT.F16  # rows not whole Q8_0 blocks
    assert tensor_type("token_embd.weight", (10, 64), QT.BF16) == QT.BF16
