"""What the machine offers a model: plain values, filled by app.hardware.probe."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GpuInfo:
    index: int
    name: str
    vram_total: int
    vram_free: int
    driver: str = ""
    api: str = "cuda"  # cuda | metal
    unified_memory: bool = False  # Apple Silicon: the GPU shares system RAM


@dataclass(frozen=True, slots=True)
class LlamaBackend:
    """The llama.cpp build inside llama-cpp-python."""

    version: str
    gpu_offload: bool
    backends: tuple[str, ...]  # ggml backend libraries shipped: cpu, cuda, metal, vulkan, …
    system_info: str


@dataclass(frozen=True, slots=True)
class HardwareInfo:
    ram_total: int
    ram_available: int
    cpu_name: str
    cpu_physical_cores: int
    cpu_logical_cores: int
    os: str
    machine: str
    gpus: tuple[GpuInfo, ...]
    llama: LlamaBackend | None  # None when llama-cpp-python cannot be imported
    notes: tuple[str, ...] = ()  # why a GPU probe found nothing, in words

    @property
    def vram_total(self) -> int:
        return sum(gpu.vram_total for gpu in self.gpus if not gpu.unified_memory)

    @property
    def vram_free(self) -> int:
        return sum(gpu.vram_free for gpu in self.gpus if not gpu.unified_memory)

    @property
    def unified_memory(self) -> bool:
        return any(gpu.unified_memory for gpu in self.gpus)

    @property
    def can_offload(self) -> bool:
        """Layers can go to a GPU only if there is one and the llama.cpp build can use it."""
        return bool(self.gpus) and self.llama is not None and self.llama.gpu_offload
