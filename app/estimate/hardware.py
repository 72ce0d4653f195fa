"""The machine as the planner sees it. app.hardware's probe converts its HardwareInfo into this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.estimate.cpu import NO_REPACK, CpuBackend, cpu_backend

if TYPE_CHECKING:
    from app.hardware import HardwareInfo


@dataclass(frozen=True, slots=True)
class HardwareSpec:
    """Memory in bytes. `vram_*` are 0 and `gpu_offload_supported` False on a machine without a usable
    GPU backend (llama.cpp then keeps every layer on the CPU whatever n_gpu_layers says). `cpu`: ggml's
    CPU backend as built, whose features decide which weights it repacks."""

    ram_total: int
    ram_available: int
    vram_total: int = 0
    vram_free: int = 0
    gpu_offload_supported: bool = False
    cpu: CpuBackend = NO_REPACK

    @property
    def has_gpu(self) -> bool:
        return self.gpu_offload_supported and self.vram_free > 0


def spec_from_info(info: HardwareInfo) -> HardwareSpec:
    """Convert app.hardware's probe result. GPUs that share system RAM (Apple) report their own working
    set; they count as VRAM here, so such a machine's RAM and VRAM figures overlap."""
    gpus = info.gpus
    return HardwareSpec(
        ram_total=info.ram_total,
        ram_available=info.ram_available,
        vram_total=sum(gpu.vram_total for gpu in gpus),
        vram_free=sum(gpu.vram_free for gpu in gpus),
        gpu_offload_supported=info.can_offload,
        cpu=cpu_backend(info.llama.system_info, info.llama.backends, bool(gpus)) if info.llama else NO_REPACK,
    )


def probe_spec() -> HardwareSpec:
    """This machine, through app.hardware's probe (which loads llama.cpp to learn its backends)."""
    from app.hardware import probe_hardware

    return spec_from_info(probe_hardware())
