"""The largest context a quant's verdict holds at (issue 13, item 5): a bisection over the estimate, checked
against a plain walk over every multiple of 256, for each kind of verdict."""

from __future__ import annotations

import dataclasses

import pytest

from app.estimate import (
    HardwareSpec,
    LoadSettings,
    QuantFile,
    VerdictKind,
    estimate,
    fits,
    recommend,
    verdict,
    verdict_context,
)
from app.estimate.memory import at_context
from app.estimate.planner import Verdict
from tests.unit.estimate.shapes import MIB, make_shape

GIB = 1024 * MIB
SETTINGS = LoadSettings(n_ctx=4096, n_outputs_max=1)
SHAPE = make_shape(n_layer=8, n_head_kv=8, head=128, layer_bytes=100 * MIB, n_ctx_train=65536)


def machine(ram: int, vram: int = 0) -> HardwareSpec:
    return HardwareSpec(ram, ram, vram, vram, gpu_offload_supported=vram > 0)


def walk(result: Verdict, hw: HardwareSpec) -> int:
    """Every multiple of 256 up to the trained context with the verdict's placement, the slow way."""
    layers = 0 if result.kind is VerdictKind.CPU_ONLY else result.n_gpu_layers
    best = 0
    for n_ctx in range(256, SHAPE.n_ctx_train + 1, 256):
        est = estimate(
            SHAPE,
            dataclasses.replace(SETTINGS, n_ctx=n_ctx, n_gpu_layers=layers, n_cpu_moe=result.n_cpu_moe),
            gpu_available=hw.gpu_offload_supported,
        )
        if fits(est, hw):
            best = n_ctx
    return best


@pytest.mark.parametrize(
    ("ram", "vram", "kind"),
    [
        (64 * GIB, 24 * GIB, VerdictKind.FULL_GPU),
        (64 * GIB, 1024 * MIB, VerdictKind.PARTIAL),
        (int(2.5 * GIB), 0, VerdictKind.CPU_ONLY),
        (64 * GIB, 0, VerdictKind.CPU_ONLY),
        (200 * MIB, 0, VerdictKind.WONT_FIT),
    ],
)
def test_the_search_finds_what_a_walk_over_every_context_finds(ram: int, vram: int, kind: VerdictKind) -> None:
    hw = machine(ram, vram)
    result = verdict(SHAPE, SETTINGS, hw)
    assert result.kind is kind
    best = verdict_context(SHAPE, SETTINGS, hw, result)
    assert best == walk(result, hw)
    assert best % 256 == 0 and best <= SHAPE.n_ctx_train
    if kind is VerdictKind.WONT_FIT:
        assert best == 0
    else:
        assert best >= SETTINGS.n_ctx  # it holds at the context it was judged at


def test_a_context_search_step_equals_a_full_estimate() -> None:
    settings = dataclasses.replace(SETTINGS, n_gpu_layers=5)
    base = estimate(SHAPE, settings)
    for n_ctx in (256, 1000, 4096, 65536):
        assert at_context(base, SHAPE, n_ctx) == estimate(SHAPE, dataclasses.replace(settings, n_ctx=n_ctx))


def test_every_quant_verdict_carries_its_largest_context() -> None:
    files = [QuantFile(label, int(SHAPE.weight_bytes * r)) for label, r in (("Q4_K_M", 0.55), ("Q8_0", 1.0))]
    result = recommend(files, machine(int(2.5 * GIB)), SETTINGS, SHAPE)
    small, large = result.verdicts
    assert small.max_ctx >= large.max_ctx > 0  # smaller weights leave more room for the cache
    size_only = recommend(files, machine(int(2.5 * GIB)), SETTINGS).verdicts
    assert all(v.max_ctx == 0 and not v.exact for v in size_only)
