"""Acceptance: recurrent and hybrid models against the real llama.cpp, architecture by architecture.

For each architecture a synthetic model (app.gguf.synthetic_arch, the tensors llama.cpp's loader asks for)
is loaded by llama-cpp-python, and our estimate is compared with the buffers llama.cpp logs:

* recurrent state: R, S, total and buffer size identical at the log's precision, the state row count
  (one per sequence) exact;
* attention KV cache: cells, cached layers (only the attention layers of a hybrid), K, V and buffer sizes
  identical at the log's precision; none at all for a pure recurrent model;
* weights: the exact byte total, the host buffer within the log's rounding and the mmap's alignment;
* output buffer identical; compute buffer within COMPUTE_UNDER / COMPUTE_OVER (the recurrent stage is
  a fit per state kind, state.py stage_width; the benchmark prints every error).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.estimate import FlashAttn, LoadSettings, estimate
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from app.gguf.synthetic_arch import DEFAULT_SPECS, write_arch_gguf
from tests.integration.estimate.llama_log import (
    expected_dsv4_states,
    expected_kv,
    load_and_log,
    mib_double,
    mib_float32,
)

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
WEIGHT_TOLERANCE = 0.005
COMPUTE_UNDER, COMPUTE_OVER = 0.20, 0.15  # measured: -15% (qwen3next, 3 sequences) to +7%


@pytest.fixture(scope="session")
def arch_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("arch-models")
    return {arch: write_arch_gguf(root / f"{arch}.gguf", spec) for arch, spec in DEFAULT_SPECS.items()}


def compare(path: Path, settings: LoadSettings) -> None:
    shape = shape_from_header(read_model(path))
    est = estimate(shape, settings, gpu_available=False)
    log = load_and_log(path, settings)

    # recurrent state
    assert est.state is not None
    sizes = est.state.sizes
    state_bytes = sizes.r_bytes + sizes.s_bytes + sizes.p_bytes
    if not state_bytes:
        assert log.rs == [] and log.rs_buffers == []
    else:
        assert len(log.rs) == 1
        rs = log.rs[0]
        assert rs.cells == sizes.rows == max(1, settings.n_seq_max)
        assert (rs.r_mib, rs.s_mib) == (mib_float32(sizes.r_bytes), mib_float32(sizes.s_bytes))
        assert rs.p_mib == mib_float32(sizes.p_bytes)  # Qwen4-Exp's PLE convolution history
        assert rs.size_mib == mib_float32(state_bytes)
        assert log.rs_buffers == [("CPU", mib_double(state_bytes))]
    assert est.state.bytes_on(False) == est.state.total_bytes and est.state.bytes_on(True) == 0

    caches = expected_kv(est, shape.has_swa)  # attention (full part), indexer, sliding-window part
    assert [(x.cells, x.layers) for x in log.kv] == [(cells, n) for cells, n, _, _ in caches]
    for logged, (_, _, k, v) in zip(log.kv, caches, strict=True):
        assert (logged.k_mib, logged.v_mib, logged.size_mib) == (mib_float32(k), mib_float32(v), mib_float32(k + v))
    assert log.kv_buffers == [("CPU", mib_double(k + v)) for _, n, k, v in caches if n]
    assert log.dsv4_states == expected_dsv4_states(est)  # DeepSeek-V4's compressor states (none elsewhere)

    # weights, output, compute
    assert log.model_size == shape.weight_bytes
    host = log.model_buffers["CPU_Mapped"] * MIB
    assert abs(host - est.weights.cpu) <= max(WEIGHT_TOLERANCE * est.weights.cpu, 0.005 * MIB)
    assert log.output_buffers == {"CPU": mib_double(est.output_bytes)}
    measured = log.compute_buffers["CPU"] * MIB
    assert -COMPUTE_UNDER <= (est.compute.cpu - measured) / measured <= COMPUTE_OVER
    assert est.ram_bytes >= est.weights.cpu + est.kv_bytes + est.state.total_bytes


CASES = [
    pytest.param(arch, settings, id=f"{arch}-{label}")
    for arch in DEFAULT_SPECS
    for label, settings in (
        ("ctx1024", LoadSettings(n_ctx=1024)),
        ("3-seqs-fa-off", LoadSettings(n_ctx=2048, n_seq_max=3, flash_attn=FlashAttn.OFF)),
        ("engine-4096", LoadSettings(n_ctx=4096, n_batch=512, n_ubatch=512, n_outputs_max=1)),
    )
    if not (arch == "minimax-01" and settings.n_seq_max > 1)  # llama.cpp's minimax-01 graph asserts then
]


@pytest.mark.parametrize(("arch", "settings"), CASES)
def test_recurrent_and_hybrid_models_match_llama_cpp(
    arch_models: dict[str, Path], arch: str, settings: LoadSettings
) -> None:
    compare(arch_models[arch], settings)


def test_hybrid_cache_covers_only_attention_layers(arch_models: dict[str, Path]) -> None:
    shape = shape_from_header(read_model(arch_models["qwen35"]))
    assert shape.kv_layers == (False, True, False, True)  # every 2nd layer attends (full_attention_interval 2)
    assert shape.rs_layers == (True, False, True, False)
    falcon = shape_from_header(read_model(arch_models["falcon-h1"]))
    assert all(falcon.kv_layers) and all(falcon.rs_layers)  # Falcon-H1: both on every layer
    mamba = shape_from_header(read_model(arch_models["mamba"]))
    long, short = (estimate(mamba, LoadSettings(n_ctx=n)) for n in (65536, 512))
    assert long.kv_bytes == 0 and long.state is not None and short.state is not None
    assert long.state.total_bytes == short.state.total_bytes  # the state does not grow with the context


def test_state_on_the_gpu_follows_its_layer(arch_models: dict[str, Path]) -> None:
    shape = shape_from_header(read_model(arch_models["jamba"]))
    assert shape.rs_layers == (True, False, True, True)
    est = estimate(shape, LoadSettings(n_ctx=1024, n_gpu_layers=3))  # output + layers 2, 3
    assert est.state is not None
    per_layer = est.state.sizes.layers[0].r_bytes + est.state.sizes.layers[0].s_bytes
    assert est.state_device.gpu == 2 * per_layer and est.state_device.cpu == per_layer
    kept = estimate(shape, LoadSettings(n_ctx=1024, n_gpu_layers=-1, offload_kqv=False))
    assert kept.state_device.gpu == 0


@pytest.mark.parametrize("swa_full", [False, True])
def test_hybrid_with_a_sliding_window(tmp_path: Path, swa_full: bool) -> None:
    """LFM2 with `sliding_window`: llama.cpp's hybrid-iswa memory puts every attention layer in the
    window-sized cache and logs an empty full-size one before it."""
    spec = DEFAULT_SPECS["lfm2"].with_(metadata=(("lfm2.attention.sliding_window", 128),))
    path = write_arch_gguf(tmp_path / "lfm2-swa.gguf", spec)
    settings = LoadSettings(n_ctx=4096, swa_full=swa_full)
    est = estimate(shape_from_header(read_model(path)), settings, gpu_available=False)
    log = load_and_log(path, settings)
    swa = est.kv.part(swa=True)
    assert est.kv.part(swa=False) == () and len(swa) == 1
    assert [(x.cells, x.layers, x.size_mib) for x in log.kv] == [
        (4096, 0, "0.00"),
        (swa[0].cells, 1, mib_float32(swa[0].bytes)),
    ]
    assert swa[0].cells == (4096 if swa_full else 768)  # window + ubatch, padded to 256
    assert est.state is not None and log.rs[0].size_mib == mib_float32(est.state.total_bytes)
    measured = log.compute_buffers["CPU"] * MIB
    assert -COMPUTE_UNDER <= (est.compute.cpu - measured) / measured <= COMPUTE_OVER


def test_mtp_layers_get_no_state_and_no_cache(tmp_path: Path) -> None:
    """Qwen3.5 with a multi-token-prediction layer: the main context's hybrid memory covers the trunk only."""
    path = write_arch_gguf(tmp_path / "qwen35-mtp.gguf", DEFAULT_SPECS["qwen35"].with_(n_layer=5, n_nextn=1))
    settings = LoadSettings(n_ctx=1024)
    shape = shape_from_header(read_model(path))
    assert shape.rs_layers == (True, False, True, False, False)
    assert shape.kv_layers == (False, True, False, True, False)
    est = estimate(shape, settings, gpu_available=False)
    log = load_and_log(path, settings)
    k, v = sum(x.k_bytes for x in est.kv.layers), sum(x.v_bytes for x in est.kv.layers)
    assert [(x.layers, x.size_mib) for x in log.kv] == [(2, mib_float32(k + v))]
    assert est.state is not None
    assert [(x.layers, x.size_mib) for x in log.rs] == [(4, mib_float32(est.state.total_bytes))]  # n_layer(): trunk


def test_qwen4exp_ple_history_is_a_third_state_tensor(tmp_path: Path) -> None:
    """Qwen4-Exp with per-layer n-gram embeddings: llama.cpp adds a PLE convolution history (`cache_ple_r_l`)
    to the recurrent state of the PLE layer, logged as the state line's P part."""
    path = write_arch_gguf(tmp_path / "qwen4exp-ple.gguf", DEFAULT_SPECS["qwen4exp"].with_(ple=True))
    plain = estimate(shape_from_header(read_model(arch_path(tmp_path))), LoadSettings(n_ctx=1024))
    for settings in (LoadSettings(n_ctx=1024), LoadSettings(n_ctx=2048, n_seq_max=3)):
        est = estimate(shape_from_header(read_model(path)), settings, gpu_available=False)
        log = load_and_log(path, settings)
        assert est.state is not None and plain.state is not None and plain.state.sizes.p_bytes == 0
        sizes = est.state.sizes
        assert sizes.p_bytes == 7 * 5 * 2 * 64 * 4 * max(1, settings.n_seq_max)  # (kernel-1)·ngram·hc·n_embd f32
        (rs,) = log.rs
        assert (rs.r_mib, rs.s_mib, rs.p_mib) == tuple(
            mib_float32(x) for x in (sizes.r_bytes, sizes.s_bytes, sizes.p_bytes)
        )
        assert rs.size_mib == mib_float32(est.state.recurrent_bytes)
        caches = expected_kv(est, False)
        assert [(x.cells, x.layers, x.size_mib) for x in log.kv] == [
            (c, n, mib_float32(k + v)) for c, n, k, v in caches
        ]
        measured = log.compute_buffers["CPU"] * MIB
        assert 0 <= (est.compute.cpu - measured) / measured <= 0.25  # measured +11% to +19%: on the safe side


def arch_path(tmp_path: Path) -> Path:
    return write_arch_gguf(tmp_path / "qwen4exp.gguf", DEFAULT_SPECS["qwen4exp"])
