"""Planner, verdicts and the quant recommender on hand-built shapes and machines."""

from __future__ import annotations

import dataclasses

from app.estimate import (
    HardwareSpec,
    LoadSettings,
    QuantFile,
    VerdictKind,
    estimate,
    max_context,
    plan_gpu_layers,
    recommend,
    verdict,
)
from app.estimate.memory import GPU_RUNTIME_BYTES
from tests.unit.estimate.shapes import MIB, make_shape

GIB = 1024 * MIB
SETTINGS = LoadSettings(n_ctx=4096)


def machine(ram: int = 32 * GIB, vram: int = 0) -> HardwareSpec:
    return HardwareSpec(ram, ram, vram, vram, gpu_offload_supported=vram > 0)


def test_plan_gpu_layers_is_the_largest_that_fits() -> None:
    shape = make_shape(n_layer=8, layer_bytes=100 * MIB)
    full = estimate(shape, dataclasses.replace(SETTINGS, n_gpu_layers=-1))
    assert plan_gpu_layers(shape, SETTINGS, full.vram_need, margin=0) == 9
    budget = estimate(shape, dataclasses.replace(SETTINGS, n_gpu_layers=5)).vram_need
    assert plan_gpu_layers(shape, SETTINGS, budget, margin=0) == 5
    assert plan_gpu_layers(shape, SETTINGS, budget - 1, margin=0) == 4
    assert plan_gpu_layers(shape, SETTINGS, budget + 64 * MIB, margin=64 * MIB) == 5
    assert plan_gpu_layers(shape, SETTINGS, 10 * MIB) == 0


def test_verdicts() -> None:
    shape = make_shape(n_layer=8, layer_bytes=100 * MIB)
    full = verdict(shape, SETTINGS, machine(vram=8 * GIB))
    assert full.kind is VerdictKind.FULL_GPU and full.n_gpu_layers == full.n_layers == 9
    partial = verdict(shape, SETTINGS, machine(vram=GPU_RUNTIME_BYTES + 700 * MIB))
    assert partial.kind is VerdictKind.PARTIAL and 0 < partial.n_gpu_layers < 9
    assert partial.label == f"Fits in VRAM + RAM ({partial.n_gpu_layers} of 9 layers on the GPU)"
    cpu = verdict(shape, SETTINGS, machine())
    assert cpu.kind is VerdictKind.CPU_ONLY and cpu.estimate.vram_bytes == 0
    assert verdict(shape, SETTINGS, machine(ram=500 * MIB)).kind is VerdictKind.WONT_FIT


def test_max_context_is_the_largest_that_fits() -> None:
    shape = make_shape(n_head_kv=8, head=128, n_ctx_train=131072)  # 16 KiB of cache per token
    hw = machine(ram=2 * GIB)
    best = max_context(shape, SETTINGS, hw)
    assert best % 256 == 0 and 0 < best < 131072
    settings = dataclasses.replace(SETTINGS, n_gpu_layers=0)
    assert estimate(shape, dataclasses.replace(settings, n_ctx=best), gpu_available=False).ram_need <= hw.ram_available
    over = estimate(shape, dataclasses.replace(settings, n_ctx=best + 256), gpu_available=False)
    assert over.ram_need > hw.ram_available
    assert max_context(shape, SETTINGS, machine(ram=64 * GIB)) == 131072
    assert max_context(shape, SETTINGS, machine(ram=10 * MIB)) == 0


def quants(reference_bytes: int) -> list[QuantFile]:
    return [QuantFile(label, int(reference_bytes * ratio)) for label, ratio in
            (("Q4_K_M", 0.55), ("Q5_K_M", 0.65), ("Q8_0", 1.0), ("F16", 1.9))]  # fmt: skip


def test_recommend_highest_quality_that_fits_the_gpu() -> None:
    reference = make_shape(n_layer=16, layer_bytes=100 * MIB)
    files = quants(reference.weight_bytes)
    result = recommend(files, machine(vram=3 * GIB), SETTINGS, reference)
    assert result.best is not None and result.best.file.label == "Q8_0"
    assert result.best.kind is VerdictKind.FULL_GPU
    assert "Q8_0 is the highest quality that fits entirely in the GPU" in result.reason
    kinds = {v.file.label: v.kind for v in result.verdicts}
    assert kinds["F16"] is VerdictKind.PARTIAL and kinds["Q4_K_M"] is VerdictKind.FULL_GPU


def test_recommend_partial_then_cpu() -> None:
    reference = make_shape(n_layer=16, layer_bytes=100 * MIB)
    files = quants(reference.weight_bytes)
    # nothing fits the GPU; Q4_K_M (~0.9 GiB) runs with most of it offloaded, F16 would not be usable
    partial = recommend(files, machine(vram=GPU_RUNTIME_BYTES + 900 * MIB), SETTINGS, reference)
    assert partial.best is not None and partial.best.kind is VerdictKind.PARTIAL
    assert partial.best.detail is not None and partial.best.detail.gpu_share >= 0.5
    assert "layers on the GPU" in partial.reason
    cpu = recommend(files, machine(ram=2 * GIB), SETTINGS, reference)
    assert cpu.best is not None and cpu.best.file.label == "Q8_0" and cpu.best.kind is VerdictKind.CPU_ONLY
    assert "no usable GPU" in cpu.reason and "Expect slow replies" in cpu.reason
    none = recommend(files, machine(ram=200 * MIB), SETTINGS, reference)
    assert none.best is None and "None of these files fits" in none.reason


def test_recommend_scales_weights_but_keeps_kv_exact() -> None:
    reference = make_shape(n_layer=16, layer_bytes=100 * MIB)
    result = recommend(quants(reference.weight_bytes), machine(), SETTINGS, reference)
    kv = {v.detail.estimate.kv_bytes for v in result.verdicts if v.detail}
    assert len(kv) == 1  # the cache does not depend on the weights' quantization
    q8 = next(v for v in result.verdicts if v.file.label == "Q8_0")
    assert q8.detail is not None and q8.detail.estimate.weights.total == reference.weight_bytes


def test_recommend_without_any_header_counts_weights_only() -> None:
    files = [QuantFile("Q4_K_M", 4 * GIB), QuantFile("Q8_0", 8 * GIB)]
    result = recommend(files, machine(ram=16 * GIB, vram=6 * GIB))
    assert result.best is not None and result.best.file.label == "Q4_K_M" and not result.best.exact
    assert "KV cache not counted" in result.reason


def test_bisection_agrees_with_trying_every_layer_count() -> None:
    shape = make_shape(n_layer=12, layer_bytes=64 * MIB, n_vocab=50_000)
    needs = [estimate(shape, dataclasses.replace(SETTINGS, n_gpu_layers=n)).vram_need for n in range(14)]
    assert needs == sorted(needs)  # each further layer only adds to the GPU
    for budget in range(0, needs[-1] + 2 * GIB // 8, 37 * MIB):
        linear = max(n for n in range(14) if n == 0 or needs[n] <= budget)
        assert plan_gpu_layers(shape, SETTINGS, budget, margin=0) == linear
