"""Acceptance: our estimate against the real llama.cpp (llama-cpp-python), model by model, setting by setting.

KV cache: identical — the cell and layer counts exactly, and K, V, total and buffer sizes to the
precision llama.cpp logs them (MiB with two decimals, reproduced with llama.cpp's own float rounding).
Weights: the exact byte total (llama_model_size) and the host model buffer within 0.5%.
Output buffer: identical at log precision. Compute buffer: our model no more than 10% under and 20%
over what llama.cpp reserves (most cases land within 1%; the benchmark prints them all).
This machine has no GPU, so these loads are CPU-only; the GPU placement rules are unit-tested
(tests/unit/estimate) from the rules in llama.cpp's source.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.chat.protocol import EngineSettings
from app.core.errors import EstimateError
from app.estimate import FlashAttn, LoadSettings, MemoryEstimate, ModelShape, estimate, llama_server_load_settings
from app.estimate.settings import llama_cpp_kwargs
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from tests.integration.estimate.llama_log import (
    LlamaReport,
    captured_log,
    load_and_log,
    mib_double,
    mib_float32,
    parse,
)
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
WEIGHT_TOLERANCE = 0.005
COMPUTE_UNDER, COMPUTE_OVER = 0.10, 0.20  # the compute model may err on the safe side more


def compare(path: Path, settings: LoadSettings) -> tuple[ModelShape, MemoryEstimate, LlamaReport]:
    shape = shape_from_header(read_model(path))
    est = estimate(shape, settings, gpu_available=False)
    log = load_and_log(path, settings)

    # KV cache: llama.cpp logs the full cache first, then (SWA models) the sliding-window one
    parts = [est.kv.part(swa=False), est.kv.part(swa=True)] if shape.has_swa else [est.kv.layers]
    parts = [p for p in parts if p]
    assert len(log.kv) == len(parts)
    for logged, layers, (_, buffer) in zip(log.kv, parts, log.kv_buffers, strict=True):
        k = sum(layer.k_bytes for layer in layers)
        v = sum(layer.v_bytes for layer in layers)
        assert logged.cells == layers[0].cells
        assert logged.layers == len(layers)
        assert (logged.k_type, logged.v_type) == (settings.type_k, settings.type_v)
        assert logged.k_mib == mib_float32(k)
        assert logged.v_mib == mib_float32(v)
        assert logged.size_mib == mib_float32(k + v)
        assert buffer == mib_double(k + v)

    # weights: exact total, host buffer within 0.5% (mmap maps the file range holding the host tensors;
    # without mmap the CPU buffer plus the CPU backend's repacked copies hold them)
    assert log.model_size == shape.weight_bytes
    host = log.model_buffers["CPU_Mapped"] if settings.mmap else sum(log.model_buffers.values())
    log_precision = 0.005 * MIB  # the log rounds to 0.01 MiB, coarser than 0.5% of a tiny model
    assert abs(host * MIB - est.weights.cpu) <= max(WEIGHT_TOLERANCE * est.weights.cpu, log_precision)
    assert est.weights.gpu == 0

    assert log.output_buffers == {"CPU": mib_double(est.output_bytes)}
    measured = log.compute_buffers["CPU"] * MIB
    assert -COMPUTE_UNDER <= (est.compute.cpu - measured) / measured <= COMPUTE_OVER
    return shape, est, log


GEMMA_CASES = [
    pytest.param(LoadSettings(n_ctx=n_ctx, swa_full=swa_full), id=f"ctx{n_ctx}-swa_full_{swa_full}")
    for n_ctx in (512, 2048, 8192, 32768)
    for swa_full in (False, True)
] + [
    pytest.param(LoadSettings(n_ctx=300), id="ctx300-swa-cache-padded-past-ctx"),
    pytest.param(LoadSettings(n_ctx=4096, flash_attn=FlashAttn.OFF), id="flash-off"),
    pytest.param(LoadSettings(n_ctx=4096, flash_attn=FlashAttn.ON, type_k="q8_0", type_v="q4_0"), id="q8_0-k-q4_0-v"),
    pytest.param(LoadSettings(n_ctx=4096, n_seq_max=2), id="two-sequences"),
    pytest.param(LoadSettings(n_ctx=4096, n_seq_max=2, kv_unified=True), id="two-sequences-unified"),
    pytest.param(LoadSettings(n_ctx=2048, n_ubatch=128, n_batch=256), id="small-ubatch"),
    pytest.param(LoadSettings(n_ctx=1024, mmap=False), id="no-mmap"),
    # `estimate --as llama-server`: four unified slots, 512-row logits (the default is our engine's settings)
    pytest.param(llama_server_load_settings(EngineSettings(n_ctx=8192)), id="as-llama-server"),
]


@pytest.mark.parametrize("settings", GEMMA_CASES)
def test_gemma_matches_llama_cpp(gemma_model: Path, settings: LoadSettings) -> None:
    shape, _, _ = compare(gemma_model, settings)
    assert shape.has_swa and sum(shape.swa_layers) == 15


def test_gemma_swa_cache_is_small_unless_full(gemma_model: Path) -> None:
    small = compare(gemma_model, LoadSettings(n_ctx=32768))[1]
    full = compare(gemma_model, LoadSettings(n_ctx=32768, swa_full=True))[1]
    assert small.kv.cells_swa == 1024 and full.kv.cells_swa == 32768
    swa_bytes = [sum(layer.bytes for layer in est.kv.part(swa=True)) for est in (small, full)]
    assert swa_bytes[1] == 32 * swa_bytes[0]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-estimate")
    base = TinySpec(n_layer=3, n_embd=128, n_head=8, n_head_kv=2, n_ff=256, n_vocab=1024, context_length=8192)
    specs = {
        "gqa": base.with_(tensor_type="F16"),
        "mha": base.with_(n_head_kv=8),
        "per-layer-heads": base.with_(
            n_layer=4, n_head=[8, 8, 4, 8], n_head_kv=[2, 1, 4, 8], n_ff=[256, 128, 256, 384]
        ),
        "tied-q8_0": base.with_(tied_output=True, tensor_type="Q8_0"),
        "head32": base.with_(n_head=4, n_head_kv=2),
        "split": base.with_(n_layer=4, split=2),
    }
    return {name: write_tiny_gguf(root / f"{name}.gguf", spec) for name, spec in specs.items()}


TINY_CASES = [
    ("gqa", LoadSettings(n_ctx=4096)),
    ("gqa", LoadSettings(n_ctx=4096, flash_attn=FlashAttn.OFF)),
    ("head32", LoadSettings(n_ctx=8192, type_k="q8_0", type_v="q8_0", flash_attn=FlashAttn.ON)),
    ("head32", LoadSettings(n_ctx=4096, type_k="q4_0", type_v="q8_0")),
    ("gqa", LoadSettings(n_ctx=2000, n_batch=512, n_ubatch=256)),
    ("mha", LoadSettings(n_ctx=4096)),
    ("per-layer-heads", LoadSettings(n_ctx=4096)),
    ("per-layer-heads", LoadSettings(n_ctx=4096, flash_attn=FlashAttn.OFF)),  # V padded to the widest layer
    ("per-layer-heads", LoadSettings(n_ctx=4096, n_seq_max=3)),
    ("tied-q8_0", LoadSettings(n_ctx=4096)),
    ("tied-q8_0", LoadSettings(n_ctx=4096, mmap=False)),
    ("split", LoadSettings(n_ctx=2048)),
]


@pytest.mark.parametrize(("name", "settings"), TINY_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TINY_CASES)])
def test_tiny_models_match_llama_cpp(tiny_models: dict[str, Path], name: str, settings: LoadSettings) -> None:
    compare(tiny_models[name], settings)


def test_per_layer_heads_size_each_layer(tiny_models: dict[str, Path]) -> None:
    shape = shape_from_header(read_model(tiny_models["per-layer-heads"]))
    flash = estimate(shape, LoadSettings(n_ctx=4096), gpu_available=False)
    k_per_layer = [layer.k_bytes for layer in flash.kv.layers]
    assert k_per_layer == [4096 * 2 * 16 * kv for kv in (2, 1, 4, 8)]  # cells × f16 × head size × KV heads
    no_flash = estimate(shape, dataclasses.replace(flash.settings, flash_attn=FlashAttn.OFF), gpu_available=False)
    assert {layer.v_bytes for layer in no_flash.kv.layers} == {4096 * 2 * 16 * 8}


def test_block_quantized_cache_needs_whole_blocks(tiny_models: dict[str, Path]) -> None:
    # heads of 16 values are not a whole q8_0 block (32): llama.cpp refuses the context, and so do we
    path = tiny_models["gqa"]
    settings = LoadSettings(n_ctx=4096, type_k="q8_0", flash_attn=FlashAttn.ON)
    with pytest.raises(EstimateError, match="multiple of 32"):
        estimate(shape_from_header(read_model(path)), settings)
    with pytest.raises(RuntimeError, match="does not divide n_embd_head_k=16"):
        load_and_log(path, settings)


@pytest.mark.parametrize(
    "settings",
    [
        LoadSettings(n_ctx=4096, n_batch=512),
        LoadSettings(n_ctx=2048, n_batch=512, swa_full=True, flash_attn=FlashAttn.OFF),
        LoadSettings(n_ctx=2048, n_batch=512, type_k="q8_0", type_v="q8_0"),
    ],
    ids=["defaults", "swa-full-fa-off", "q8_0-cache"],
)
def test_llama_class_with_our_kwargs_matches(gemma_model: Path, settings: LoadSettings) -> None:
    """What the chat engine does: llama_cpp.Llama(**llama_cpp_kwargs(settings)) allocates what we estimate."""
    import llama_cpp

    est = estimate(shape_from_header(read_model(gemma_model)), settings, gpu_available=False)
    with captured_log() as chunks:
        llm = llama_cpp.Llama(str(gemma_model), n_threads=1, verbose=True, **llama_cpp_kwargs(settings))
        llm.close()
    log = parse("".join(chunks))
    assert [k.size_mib for k in log.kv] == [
        mib_float32(sum(layer.bytes for layer in est.kv.part(swa=False))),
        mib_float32(sum(layer.bytes for layer in est.kv.part(swa=True))),
    ]
    assert log.output_buffers == {"CPU": mib_double(est.output_bytes)}
    measured = log.compute_buffers["CPU"] * MIB
    assert -COMPUTE_UNDER <= (est.compute.cpu - measured) / measured <= COMPUTE_OVER
