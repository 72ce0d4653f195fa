"""Offload planning: how many layers fit the GPU, how much context fits, and the verdict.

"Fits" means: the estimated VRAM plus a safety margin is at most the free VRAM, and the estimated RAM
is at most the available RAM. The margin is on top of the estimate's own GPU runtime allowance; it
covers what no estimate sees (other programs allocating, driver growth, the display).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from app.estimate.hardware import HardwareSpec
from app.estimate.kv import CELL_PAD
from app.estimate.memory import MIB, MemoryEstimate, estimate
from app.estimate.model import ModelShape
from app.estimate.settings import GPU_LAYERS_ALL, LoadSettings

DEFAULT_MARGIN = 256 * MIB


class VerdictKind(str, Enum):
    FULL_GPU = "full_gpu"
    PARTIAL = "partial"
    CPU_ONLY = "cpu_only"
    WONT_FIT = "wont_fit"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    n_gpu_layers: int  # the layer count to load with (0 for CPU only / won't fit)
    n_layers: int  # offloadable layers: repeating layers + the output layer
    estimate: MemoryEstimate  # at n_gpu_layers (for WONT_FIT: the CPU-only estimate)

    @property
    def label(self) -> str:
        if self.kind is VerdictKind.PARTIAL:
            return f"partial offload ({self.n_gpu_layers} of {self.n_layers} layers on the GPU)"
        return {
            VerdictKind.FULL_GPU: "fully on the GPU",
            VerdictKind.CPU_ONLY: "CPU only",
            VerdictKind.WONT_FIT: "won't fit",
        }[self.kind]

    @property
    def gpu_share(self) -> float:
        """Fraction of the weight bytes that sit on the GPU."""
        weights = self.estimate.weights
        return weights.gpu / weights.total if weights.total else 0.0


def _with(settings: LoadSettings, *, n_gpu_layers: int | None = None, n_ctx: int | None = None) -> LoadSettings:
    return dataclasses.replace(
        settings,
        n_gpu_layers=settings.n_gpu_layers if n_gpu_layers is None else n_gpu_layers,
        n_ctx=settings.n_ctx if n_ctx is None else n_ctx,
    )


def fits(est: MemoryEstimate, hardware: HardwareSpec, margin: int = DEFAULT_MARGIN) -> bool:
    vram_ok = est.vram_bytes == 0 or est.vram_bytes + margin <= hardware.vram_free
    return vram_ok and est.ram_bytes <= hardware.ram_available


def plan_gpu_layers(model: ModelShape, settings: LoadSettings, vram_budget: int, margin: int = DEFAULT_MARGIN) -> int:
    """The largest n_gpu_layers (0 … n_layer + 1) whose VRAM estimate plus `margin` fits `vram_budget`.

    Each further layer only adds bytes to the GPU (its weights, its KV cache, its share of the compute
    buffer), so the VRAM need grows with the layer count and a bisection finds the boundary."""

    def fits_budget(n: int) -> bool:
        return estimate(model, _with(settings, n_gpu_layers=n)).vram_bytes + margin <= vram_budget

    lo, hi = 0, model.n_layer + 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits_budget(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


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
    lo, hi = 0, top  # in units of CELL_PAD; KV and compute grow with the context, so bisect
    while lo < hi:
        mid = (lo + hi + 1) // 2
        est = estimate(model, _with(settings, n_ctx=mid * CELL_PAD), gpu_available=gpu)
        if fits(est, hardware, margin):
            lo = mid
        else:
            hi = mid - 1
    return lo * CELL_PAD


def verdict(model: ModelShape, settings: LoadSettings, hardware: HardwareSpec, margin: int = DEFAULT_MARGIN) -> Verdict:
    """Full GPU offload if everything fits the GPU, else the most layers that fit, else CPU only, else won't fit."""
    n_layers = model.n_layer + 1
    if hardware.has_gpu:
        full = estimate(model, _with(settings, n_gpu_layers=GPU_LAYERS_ALL))
        if fits(full, hardware, margin):
            return Verdict(VerdictKind.FULL_GPU, n_layers, n_layers, full)
        n = plan_gpu_layers(model, settings, hardware.vram_free, margin)
        if n > 0:
            partial = estimate(model, _with(settings, n_gpu_layers=n))
            if fits(partial, hardware, margin):
                return Verdict(VerdictKind.PARTIAL, n, n_layers, partial)
    cpu = estimate(model, _with(settings, n_gpu_layers=0), gpu_available=False)
    kind = VerdictKind.CPU_ONLY if fits(cpu, hardware, margin) else VerdictKind.WONT_FIT
    return Verdict(kind, 0, n_layers, cpu)


def classify(est: MemoryEstimate, hardware: HardwareSpec, margin: int = DEFAULT_MARGIN) -> VerdictKind:
    """The verdict for an estimate made with an explicit n_gpu_layers."""
    if not fits(est, hardware, margin):
        return VerdictKind.WONT_FIT
    if est.placement.full_offload:
        return VerdictKind.FULL_GPU
    return VerdictKind.PARTIAL if est.placement.n_gpu_layers else VerdictKind.CPU_ONLY
