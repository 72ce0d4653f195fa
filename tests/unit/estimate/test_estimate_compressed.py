"""DeepSeek-V4's compressed caches and Qwen4-Exp's indexer and PLE history (app.estimate.layout, .state) on
synthetic headers; tests/integration/estimate/test_state_vs_llama.py compares both with llama.cpp's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import EstimateError
from app.estimate import LoadSettings, ModelShape, estimate
from app.estimate.classes import check_estimable
from app.estimate.shape import shape_from_header
from app.estimate.state import state_sizes
from app.gguf import read_model
from app.gguf.synthetic_arch import DEFAULT_SPECS, ArchSpec, write_arch_gguf

MIB = 1024 * 1024


def _shape(tmp_path: Path, spec: ArchSpec) -> ModelShape:
    return shape_from_header(read_model(write_arch_gguf(tmp_path / f"{spec.arch}.gguf", spec)))


def test_deepseek4_and_qwen4exp_are_estimated() -> None:
    check_estimable("deepseek4")
    check_estimable("qwen4exp")


def test_deepseek4_keeps_k_only_caches_beside_its_raw_window(tmp_path: Path) -> None:
    shape = _shape(tmp_path, DEFAULT_SPECS["deepseek4"])  # ratios 0, 4, 128, 4; key_length 64; 1 KV head
    assert shape.compress_ratios == (0, 4, 128, 4) and shape.mla and all(shape.kv_layers) and all(shape.swa_layers)
    est = estimate(shape, LoadSettings(n_ctx=4096), gpu_available=False)
    assert est.kv.v_bytes == 0 and {x.cells for x in est.kv.layers} == {768}  # window 128 + ubatch, padded
    assert est.state is not None
    parts = {x.name: x for x in est.state.sizes.compressed}
    assert (parts["csa"].cells, parts["csa"].layers) == (1024, (1, 3))  # 4096 / 4
    assert (parts["hca"].cells, parts["hca"].layers) == (256, (2,))  # 4096 / 128 = 32, padded to 256
    assert (parts["lid"].cells, parts["lid"].layers) == (1024, (1, 3))
    assert parts["csa"].n_bytes == 2 * 1024 * 64 * 2  # f16 K of 64 values, two layers
    assert parts["lid"].n_bytes == 2 * 1024 * 64 * 2  # the indexer's 64-value keys
    assert parts["csa state"].n_bytes == 2 * 2 * (2 * 4) * (2 * 64) * 4  # layers · (kv, score) · 8 rows · 128 · f32
    assert parts["hca state"].n_bytes == 2 * 128 * 64 * 4
    assert est.state.total_bytes == sum(x.n_bytes for x in parts.values())
    assert est.ram_bytes >= est.kv_bytes + est.state.total_bytes


def test_deepseek4_caches_stay_per_sequence_when_unified(tmp_path: Path) -> None:
    shape = _shape(tmp_path, DEFAULT_SPECS["deepseek4"])
    split = estimate(shape, LoadSettings(n_ctx=4096, n_seq_max=2), gpu_available=False)
    unified = estimate(shape, LoadSettings(n_ctx=4096, n_seq_max=2, kv_unified=True), gpu_available=False)
    assert unified.state is not None and split.state is not None
    # unified: each of the 2 streams spans the whole 4096-cell context, so the compressed caches double
    csa = {x.name: x for x in unified.state.sizes.compressed}["csa"]
    assert csa.cells == 1024 and csa.n_bytes == 2 * {x.name: x for x in split.state.sizes.compressed}["csa"].n_bytes
    assert unified.kv.k_bytes == split.kv.k_bytes  # the raw window: 768 cells per sequence either way


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"omit": ("deepseek4.attention.compress_ratios",)}, "compress_ratios"),
        ({"metadata": (("deepseek4.attention.compress_ratios", [0, 8, 128, 4]),)}, "compress ratios"),
        ({"omit": ("deepseek4.attention.indexer.key_length",)}, "lacks attention.indexer.key_length"),
        ({"metadata": (("deepseek4.attention.key_length", 1 << 24),)}, "implausible"),
    ],
    ids=["no-ratios", "unknown-ratio", "no-indexer-width", "absurd-head"],
)
def test_broken_deepseek4_headers_give_an_estimate_error(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(EstimateError, match=message):
        _shape(tmp_path, DEFAULT_SPECS["deepseek4"].with_(**change))


def test_qwen4exp_indexer_keeps_keys_only_on_attention_layers(tmp_path: Path) -> None:
    shape = _shape(tmp_path, DEFAULT_SPECS["qwen4exp"])
    assert shape.rs_layers == (True, False, True, False) and shape.indexer_k == (0, 64, 0, 64)
    sizes = state_sizes(shape, LoadSettings(n_ctx=1024))
    assert sizes.idx_v_bytes == 0 and sizes.idx_bytes == 2 * 1024 * 64 * 2 and sizes.p_bytes == 0


def test_qwen4exp_ple_history_is_one_row_per_sequence(tmp_path: Path) -> None:
    shape = _shape(tmp_path, DEFAULT_SPECS["qwen4exp"].with_(ple=True))
    assert shape.p_layers == (True, False, False, False) and shape.n_embd_p == 7 * 5 * 2 * 64
    one, three = (state_sizes(shape, LoadSettings(n_ctx=1024, n_seq_max=n)) for n in (1, 3))
    assert (one.p_bytes, three.p_bytes) == (7 * 5 * 2 * 64 * 4, 3 * 7 * 5 * 2 * 64 * 4)
    assert state_sizes(shape, LoadSettings(n_ctx=65536)).p_bytes == one.p_bytes  # not the context


@pytest.mark.parametrize("layers", [[1], [0, 2]], ids=["attention-layer", "two-layers"])
def test_qwen4exp_ple_on_a_layer_llama_cpp_refuses(tmp_path: Path, layers: list[int]) -> None:
    spec = DEFAULT_SPECS["qwen4exp"].with_(ple=True, metadata=(("qwen4exp.ple.layers", layers),))
    with pytest.raises(EstimateError, match="PLE layers"):
        _shape(tmp_path, spec)
