"""KV cache sizing rules (kv.py) on hand-built shapes; the real llama.cpp checks are in tests/integration/estimate."""

from __future__ import annotations

import pytest

from app.core.errors import EstimateError
from app.estimate import FlashAttn, LoadSettings, estimate
from app.estimate.kv import context_sizes
from tests.unit.estimate.shapes import make_shape


def kv(shape_kwargs: dict[str, object] | None = None, **settings: object) -> int:
    shape = make_shape(**(shape_kwargs or {}))  # type: ignore[arg-type]
    return estimate(shape, LoadSettings(**settings), gpu_available=False).kv_bytes  # type: ignore[arg-type]


def test_context_is_rounded_up_to_256_cells() -> None:
    shape = make_shape()
    assert context_sizes(shape, LoadSettings(n_ctx=1000)).n_ctx == 1024
    assert context_sizes(shape, LoadSettings(n_ctx=0)).n_ctx == 8192  # 0: the trained context
    # batch sizes are capped by the requested context, before rounding
    sizes = context_sizes(shape, LoadSettings(n_ctx=300, n_batch=2048, n_ubatch=512))
    assert (sizes.n_batch, sizes.n_ubatch, sizes.n_outputs_max) == (300, 300, 300)


def test_gqa_cache_is_cells_times_kv_heads_times_head_size() -> None:
    # 4 layers × 1024 cells × (2 KV heads × 32) values × 2 bytes, for K and for V
    assert kv(n_ctx=1024) == 2 * 4 * 1024 * 64 * 2
    assert kv({"n_head_kv": 8}, n_ctx=1024) == 4 * kv(n_ctx=1024)


def test_per_layer_kv_heads() -> None:
    est = estimate(make_shape(n_head_kv=(1, 2, 4, 8)), LoadSettings(n_ctx=512), gpu_available=False)
    assert [layer.k_bytes for layer in est.kv.layers] == [512 * 32 * kv * 2 for kv in (1, 2, 4, 8)]


def test_v_is_padded_to_the_widest_layer_without_flash_attention() -> None:
    shape = make_shape(n_head_kv=(1, 2, 4, 8))
    off = estimate(shape, LoadSettings(n_ctx=512, flash_attn=FlashAttn.OFF), gpu_available=False)
    assert {layer.v_bytes for layer in off.kv.layers} == {512 * 32 * 8 * 2}
    assert [layer.k_bytes for layer in off.kv.layers] == [512 * 32 * kv * 2 for kv in (1, 2, 4, 8)]


def test_quantized_types_use_block_sizes() -> None:
    # q8_0: 32 values in 34 bytes; q4_0: 32 values in 18 bytes
    est = estimate(make_shape(), LoadSettings(n_ctx=256, type_k="q8_0", type_v="q4_0"), gpu_available=False)
    assert est.kv.k_bytes == 4 * 256 * (64 // 32 * 34)
    assert est.kv.v_bytes == 4 * 256 * (64 // 32 * 18)


def test_quantized_v_needs_flash_attention() -> None:
    with pytest.raises(EstimateError, match="needs flash attention"):
        LoadSettings(type_v="q8_0", flash_attn=FlashAttn.OFF)
    with pytest.raises(EstimateError, match="needs flash attention"):
        estimate(make_shape(arch="grok"), LoadSettings(type_v="q8_0"))  # grok never uses it


def test_quantized_k_needs_whole_blocks_per_head() -> None:
    with pytest.raises(EstimateError, match="multiple of 32"):
        estimate(make_shape(head=16), LoadSettings(type_k="q8_0"))


def test_sliding_window_cache() -> None:
    shape = make_shape(n_layer=6, swa_every=3, n_swa=512)  # layers 2 and 5 attend fully
    est = estimate(shape, LoadSettings(n_ctx=8192, n_ubatch=512), gpu_available=False)
    assert est.kv.cells_full == 8192
    assert est.kv.cells_swa == 1024  # window + ubatch, rounded to 256
    assert [layer.cells for layer in est.kv.layers] == [1024, 1024, 8192, 1024, 1024, 8192]
    full = estimate(shape, LoadSettings(n_ctx=8192, swa_full=True), gpu_available=False)
    assert full.kv.cells_swa == 8192
    # the SWA cache never exceeds the context, but rounding can take it past a small one
    small = estimate(shape, LoadSettings(n_ctx=300), gpu_available=False)
    assert (small.kv.cells_full, small.kv.cells_swa) == (512, 512)
    odd = estimate(shape, LoadSettings(n_ctx=4096, n_ubatch=100), gpu_available=False)
    assert odd.kv.cells_swa == 768


def test_sequences_get_their_own_streams_unless_unified() -> None:
    shape = make_shape(n_layer=2, swa_every=2, n_swa=512)
    split = estimate(shape, LoadSettings(n_ctx=4096, n_seq_max=3), gpu_available=False)
    assert split.kv.cells_full == 1536  # 4096 / 3 rounded up to 256, per stream
    assert split.kv.layers[1].k_bytes == 3 * 1536 * 64 * 2
    assert split.kv.cells_swa == 1024  # one window per stream
    unified = estimate(shape, LoadSettings(n_ctx=4096, n_seq_max=3, kv_unified=True), gpu_available=False)
    assert unified.kv.cells_full == 4096
    assert unified.kv.cells_swa == 2048  # 3 windows + ubatch, rounded
    assert unified.kv.layers[1].k_bytes == 4096 * 64 * 2


def test_mla_keeps_only_the_compressed_k() -> None:
    # DeepSeek-2 style MLA GGUF: key_length = kv_lora_rank + rope dims (512 + 64), one KV head
    shape = make_shape(n_layer=2, n_head_kv=1, head=576, mla=True)
    est = estimate(shape, LoadSettings(n_ctx=1024), gpu_available=False)
    assert est.kv.v_bytes == 0
    assert est.kv.k_bytes == 2 * 1024 * 576 * 2
    with pytest.raises(EstimateError, match="same K and V"):
        estimate(shape, LoadSettings(type_k="q8_0"))


def test_unknown_cache_type() -> None:
    with pytest.raises(EstimateError, match="unknown K cache type"):
        LoadSettings(type_k="q3_k")
