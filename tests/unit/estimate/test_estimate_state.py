"""Recurrent state, hybrid layer filters, indexer caches and architecture classes (app.estimate.layout, .state,
app.estimate.classes), on synthetic headers: the llama.cpp comparison is in tests/integration/estimate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.core.errors import EstimateError
from app.estimate import LoadSettings, ModelShape, estimate
from app.estimate.classes import ArchClass, arch_class, check_estimable
from app.estimate.layout import StateKind, state_layout, state_widths
from app.estimate.shape import shape_from_header
from app.estimate.state import state_sizes
from app.gguf import model_facts, read_model
from app.gguf.facts import StateFacts
from app.gguf.synthetic_arch import DEFAULT_SPECS, ArchSpec, write_arch_gguf


def _shape(tmp_path: Path, spec: ArchSpec) -> ModelShape:
    return shape_from_header(read_model(write_arch_gguf(tmp_path / f"{spec.arch}.gguf", spec)))


def test_state_widths_follow_n_embd_r_and_n_embd_s() -> None:
    ssm = StateFacts(ssm_d_conv=4, ssm_d_inner=256, ssm_d_state=64, ssm_n_group=2)
    assert state_widths("mamba2", StateKind.SSM, ssm, 128, 0, 0) == (3 * (256 + 2 * 2 * 64), 64 * 256)
    assert state_widths("mamba", StateKind.SSM_NO_GROUPS, ssm, 128, 0, 0) == (3 * 256, 64 * 256)
    wkv = StateFacts(wkv_head_size=64)
    assert state_widths("rwkv7", StateKind.WKV, wkv, 128, 0, 0) == (2 * 128, 128 * 64)
    assert state_widths("lfm2", StateKind.SHORTCONV, StateFacts(shortconv_l_cache=3), 512, 8, 64) == (2 * 512, 0)
    kda = StateFacts(kda_head_dim=128, ssm_d_conv=4)
    assert state_widths("kimi-linear", StateKind.KDA, kda, 2048, 32, 128) == (3 * 3 * 32 * 128, 128 * 128 * 32)
    assert state_widths("minimax-01", StateKind.LIGHTNING, StateFacts(), 2048, 64, 128) == (0, 128 * 128 * 64)


@pytest.mark.parametrize(
    ("arch", "omit", "message"),
    [
        ("mamba", "mamba.ssm.state_size", r"lacks ssm\.state_size"),
        ("qwen35", "qwen35.ssm.conv_kernel", r"lacks ssm\.conv_kernel"),
        ("rwkv7", "rwkv7.wkv.head_size", r"lacks wkv\.head_size"),
        ("lfm2", "lfm2.shortconv.l_cache", r"lacks shortconv\.l_cache"),
    ],
)
def test_missing_state_sizes_give_an_estimate_error(tmp_path: Path, arch: str, omit: str, message: str) -> None:
    with pytest.raises(EstimateError, match=message):
        _shape(tmp_path, DEFAULT_SPECS[arch].with_(omit=(omit,)))


@pytest.mark.parametrize(
    "metadata",
    [(("mamba2.ssm.inner_size", 1 << 24),), (("mamba2.ssm.group_count", 1 << 22),), (("mamba2.ssm.conv_kernel", 0),)],
    ids=["huge-inner", "huge-groups", "zero-kernel"],
)
def test_absurd_state_sizes_give_an_estimate_error(tmp_path: Path, metadata: tuple[tuple[str, int], ...]) -> None:
    with pytest.raises(EstimateError, match=r"implausible|lacks"):
        _shape(tmp_path, DEFAULT_SPECS["mamba2"].with_(metadata=metadata))


def test_recurrent_layers_array_overrides_the_interval(tmp_path: Path) -> None:
    flags = (True, True, True, False)
    shape = _shape(tmp_path, DEFAULT_SPECS["qwen35"].with_(metadata=(("qwen35.attention.recurrent_layers", flags),)))
    assert shape.rs_layers == flags
    assert shape.kv_layers == (False, False, False, True)


def test_layer_filters_by_family(tmp_path: Path) -> None:
    nemotron = _shape(tmp_path, DEFAULT_SPECS["nemotron_h"])
    assert nemotron.rs_layers == (True, False, False, True, False, True)  # no KV heads and no FFN
    assert nemotron.kv_layers == (False, False, True, False, False, False)  # KV heads and no FFN
    lfm2 = _shape(tmp_path, DEFAULT_SPECS["lfm2"])
    assert lfm2.rs_layers == (True, False, True, True) and lfm2.kv_layers == (False, True, False, False)
    rwkv = _shape(tmp_path, DEFAULT_SPECS["rwkv6"])
    assert all(rwkv.rs_layers) and not any(rwkv.kv_layers)


def test_state_rows_are_one_per_sequence_and_ignore_the_context(tmp_path: Path) -> None:
    shape = _shape(tmp_path, DEFAULT_SPECS["mamba"])
    one = state_sizes(shape, LoadSettings(n_ctx=512))
    four = state_sizes(shape, LoadSettings(n_ctx=65536, n_seq_max=4))
    assert four.rows == 4 and four.r_bytes == 4 * one.r_bytes and four.s_bytes == 4 * one.s_bytes
    assert one.s_bytes == 4 * 64 * 128 * 4  # layers × d_state × d_inner × f32


def test_state_is_in_the_totals_and_the_breakdown(tmp_path: Path) -> None:
    shape = _shape(tmp_path, DEFAULT_SPECS["jamba"])
    est = estimate(shape, LoadSettings(n_ctx=1024), gpu_available=False)
    assert est.state is not None
    labels = {part.label: part.bytes for part in est.breakdown}
    assert labels["recurrent state"] == est.state.recurrent_bytes == est.state_device.cpu > 0
    host = sum(est.host_weight_buffers) + est.kv_device.cpu + est.output_bytes + est.compute.cpu
    assert est.ram_bytes == host + est.state.total_bytes


def test_indexer_cache_of_sparse_attention(tmp_path: Path) -> None:
    facts = model_facts(read_model(write_arch_gguf(tmp_path / "q.gguf", DEFAULT_SPECS["qwen35"])))
    dsa = dataclasses.replace(facts, architecture="deepseek32", state=StateFacts(indexer_head_size=128))
    layout = state_layout(dsa)
    assert layout is not None and layout.indexer_k == (128,) * 4 and not any(layout.recurrent)
    glm = dataclasses.replace(
        dsa, architecture="glm-dsa", state=StateFacts(indexer_head_size=128, indexer_types=(1, 0))
    )
    glm_layout = state_layout(glm)
    assert glm_layout is not None and glm_layout.indexer_k == (128, 0, 0, 0)
    glm52 = dataclasses.replace(glm, n_layer=8, context_length=1 << 20, state=StateFacts(indexer_head_size=128))
    glm52 = dataclasses.replace(glm52, n_head=(4,) * 8, n_head_kv=(1,) * 8, n_ff=(64,) * 8)
    glm52_layout = state_layout(glm52)  # no indexer.types, a 1M context: llama.cpp's GLM-5.2 table
    assert glm52_layout is not None and [w > 0 for w in glm52_layout.indexer_k] == [1, 1, 1, 0, 0, 0, 1, 0]
    with pytest.raises(EstimateError, match=r"indexer\.key_length"):
        state_layout(dataclasses.replace(dsa, state=StateFacts()))
    hy = dataclasses.replace(dsa, architecture="hy_v4", state=StateFacts(indexer_head_size=64, indexer_top_k=8))
    with pytest.raises(EstimateError, match="indexer layers"):
        state_layout(hy)  # llama.cpp refuses an indexer without indexer.types too
    assert state_layout(dataclasses.replace(hy, state=StateFacts(indexer_head_size=64))) is None  # no top_k
    hy_types = state_layout(dataclasses.replace(hy, state=dataclasses.replace(hy.state, indexer_types=(1, 0, 1, 0))))
    assert hy_types is not None and hy_types.indexer_k == (64, 0, 64, 0)


def test_glm5_next_indexes_its_attention_layers(tmp_path: Path) -> None:
    facts = model_facts(read_model(write_arch_gguf(tmp_path / "k.gguf", DEFAULT_SPECS["kimi-linear"])))
    state = dataclasses.replace(facts.state, indexer_head_size=32, indexer_kpool=4)
    layout = state_layout(dataclasses.replace(facts, architecture="glm5-next", state=state))
    assert layout is not None and layout.recurrent == (True, True, True, False)
    assert layout.indexer_k == (0, 0, 0, 96)  # key, gate and pooled value per token


def test_architecture_classes_name_the_class() -> None:
    assert arch_class("qwen35") is None and arch_class("llama") is None
    assert arch_class("t5") is ArchClass.ENCODER_DECODER
    with pytest.raises(EstimateError, match="encoder–decoder"):
        check_estimable("t5encoder")
    with pytest.raises(EstimateError, match="draft head"):
        check_estimable("eagle3")
