"""Offload planning: how many layers fit the GPU, how much context fits, and the verdict.

"Fits" means: the estimated VRAM plus a safety margin is at most the free VRAM, and the estimated RAM
is at most the available RAM. The margin is on top of the estimate's own GPU runtime allowance; it
covers what no estimate sees (other programs allocating, driver growth, the display).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from app.estimate.hardware import HardwareSpec
from app.estimate.kv import CELL_PAD
from app.estimate.memory import MIB, MemoryEstimate, at_context, estimate
from app.estimate.model import ModelShape
from app.estimate.settings import GPU_LAYERS_ALL, LoadSettings
from app.estimate.verdict import VerdictKind, verdict_words

DEFAULT_MARGIN = 256 * MIB


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    n_gpu_layers: int  # the layer count to load with (0 for CPU only / won't fit)
    n_layers: int  # offloadable layers: repeating layers + the output layer
    estimate: MemoryEstimate  # at n_gpu_layers (for WONT_FIT: the CPU-only estimate)
    n_cpu_moe: int = 0  # the --n-cpu-moe to load with (EXPERTS_CPU)

    @property
    def label(self) -> str:
        return verdict_words(self.kind, self.n_gpu_layers, self.n_layers, self.estimate.experts_on_cpu)

    @property
    def gpu_share(self) -> float:
        """Fraction of the weight bytes that sit on the GPU."""
        weights = self.estimate.weights
        return weights.gpu / weights.total if weights.total else 0.0


def _with(
    settings: LoadSettings, *, n_gpu_layers: int | None = None, n_ctx: int | None = None, n_cpu_moe: int | None = None
) -> LoadSettings:
    return dataclasses.replace(
        settings,
        n_gpu_layers=settings.n_gpu_layers if n_gpu_layers is None else n_gpu_layers,
        n_ctx=settings.n_ctx if n_ctx is None else n_ctx,
        n_cpu_moe=settings.n_cpu_moe if n_cpu_moe is None else n_cpu_moe,
    )


def fits(est: MemoryEstimate, hardware: HardwareSpec, margin: int = DEFAULT_MARGIN) -> bool:
    vram_ok = est.vram_bytes == 0 or est.vram_need + margin <= hardware.vram_free
    return vram_ok and est.ram_need <= hardware.ram_available


def plan_gpu_layers(model: ModelShape, settings: LoadSettings, vram_budget: int, margin: int = DEFAULT_MARGIN) -> int:
    """The largest n_gpu_layers (0 … n_layer + 1) whose VRAM estimate plus `margin` fits `vram_budget`.

    Each further layer only adds bytes to the GPU (its weights, its KV cache, its share of the compute
    buffer), so the VRAM need grows with the layer count and a bisection finds the boundary."""

    def fits_budget(n: int) -> bool:
        return estimate(model, _with(settings, n_gpu_layers=n)).vram_need + margin <= vram_budget

    lo, hi = 0, model.n_layer + 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits_budget(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def plan_cpu_moe(
    model: ModelShape, settings: LoadSettings, hardware: HardwareSpec, margin: int = DEFAULT_MARGIN
) -> int | None:
    """With every layer on the GPU, the smallest --n-cpu-moe N (0 … n_layer) that fits RAM and VRAM at
    the settings' context; None when no N fits (or the model has no experts, or there is no GPU).

    Each further N only moves expert bytes from the GPU to host memory: the VRAM need falls and the
    RAM need grows with N, so the smallest N whose VRAM fits is the only candidate."""
    if not model.expert_bytes or not hardware.has_gpu:
        return None

    def at(n: int) -> MemoryEstimate:
        return estimate(model, _with(settings, n_gpu_layers=GPU_LAYERS_ALL, n_cpu_moe=n), cpu=hardware.cpu)

    def vram_fits(n: int) -> bool:
        est = at(n)
        return est.vram_bytes == 0 or est.vram_need + margin <= hardware.vram_free

    lo, hi = 0, model.n_layer
    if not vram_fits(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if vram_fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo if fits(at(lo), hardware, margin) else None


def max_context(
    model: ModelShape,
    settings: LoadSettings,
    hardware: HardwareSpec,
    margin: int = DEFAULT_MARGIN,
    limit: int | None = None,
) -> int:
    """The largest n_ctx (a multiple of 256, at most `limit`, default the trained context) that fits
    RAM and VRAM with the settings' n_gpu_layers; 0 when not even 256 tokens fit."""
    gpu = hardware.gpu_offload_supported
    top = (limit or model.n_ctx_train) // CELL_PAD
    base = estimate(model, _with(settings, n_ctx=CELL_PAD), gpu_available=gpu, cpu=hardware.cpu)
    lo, hi = 0, top  # in units of CELL_PAD; KV and compute grow with the context, so bisect
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(at_context(base, model, mid * CELL_PAD), hardware, margin):
            lo = mid
        else:
            hi = mid - 1
    return lo * CELL_PAD


def verdict_context(
    model: ModelShape, settings: LoadSettings, hardware: HardwareSpec, result: Verdict, margin: int = DEFAULT_MARGIN
) -> int:
    """The largest context (a multiple of 256, up to the trained length) at which `result` still holds:
    the same layers on the GPU and the same experts on the CPU still fit; 0 for a model that won't fit."""
    if result.kind is VerdictKind.WONT_FIT:
        return 0
    if result.kind is VerdictKind.CPU_ONLY:
        placed = _with(settings, n_gpu_layers=0, n_cpu_moe=0)
    else:
        placed = _with(settings, n_gpu_layers=result.n_gpu_layers, n_cpu_moe=result.n_cpu_moe)
    return max_context(model, placed, hardware, margin)


def verdict(model: ModelShape, settings: LoadSettings, hardware: HardwareSpec, margin: int = DEFAULT_MARGIN) -> Verdict:
    """Full GPU offload if everything fits the GPU, else the most layers that fit, else CPU only, else won't fit."""
    n_layers = model.n_layer + 1
    if hardware.has_gpu:
        full = estimate(model, _with(settings, n_gpu_layers=GPU_LAYERS_ALL), cpu=hardware.cpu)
        if fits(full, hardware, margin):
            kind = VerdictKind.EXPERTS_CPU if full.experts_on_cpu else VerdictKind.FULL_GPU
            return Verdict(kind, n_layers, n_layers, full, settings.n_cpu_moe)
        n_cpu_moe = plan_cpu_moe(model, settings, hardware, margin)
        if n_cpu_moe is not None:
            moe = estimate(model, _with(settings, n_gpu_layers=GPU_LAYERS_ALL, n_cpu_moe=n_cpu_moe), cpu=hardware.cpu)
            kind = VerdictKind.EXPERTS_CPU if moe.experts_on_cpu else VerdictKind.FULL_GPU
            return Verdict(kind, n_layers, n_layers, moe, n_cpu_moe)
        n = plan_gpu_layers(model, settings, hardware.vram_free, margin)
        if n > 0:
            partial = estimate(model, _with(settings, n_gpu_layers=n), cpu=hardware.cpu)
            if fits(partial, hardware, margin):
                return Verdict(VerdictKind.PARTIAL, n, n_layers, partial)
    cpu = estimate(model, _with(settings, n_gpu_layers=0), gpu_available=False, cpu=hardware.cpu)
    kind = VerdictKind.CPU_ONLY if fits(cpu, hardware, margin) else VerdictKind.WONT_FIT
    return Verdict(kind, 0, n_layers, cpu)


def classify(est: MemoryEstimate, hardware: HardwareSpec, margin: int = DEFAULT_MARGIN) -> VerdictKind:
    """The verdict for an estimate made with an explicit n_gpu_layers."""
    if not fits(est, hardware, margin):
        return VerdictKind.WONT_FIT
    if est.placement.full_offload:
        return VerdictKind.EXPERTS_CPU if est.experts_on_cpu else VerdictKind.FULL_GPU
    return VerdictKind.PARTIAL if est.placement.n_gpu_layers else VerdictKind.CPU_ONLY
