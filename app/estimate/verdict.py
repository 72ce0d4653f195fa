"""The fit verdict and the one table of words for it, used by Discover, Chat, Quantize and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType


class VerdictKind(str, Enum):
    FULL_GPU = "full_gpu"
    EXPERTS_CPU = "experts_cpu"  # every layer on the GPU but the expert tensors of some (--n-cpu-moe)
    PARTIAL = "partial"
    CPU_ONLY = "cpu_only"
    WONT_FIT = "wont_fit"


VERDICT_WORDS: Mapping[VerdictKind, str] = MappingProxyType(
    {
        VerdictKind.FULL_GPU: "Fits in VRAM",
        VerdictKind.EXPERTS_CPU: "Fits with experts on the CPU",
        VerdictKind.PARTIAL: "Fits in VRAM + RAM",
        VerdictKind.CPU_ONLY: "Fits in RAM (CPU only)",
        VerdictKind.WONT_FIT: "Won't fit",
    }
)


def verdict_words(kind: VerdictKind, n_gpu_layers: int = 0, n_layers: int = 0, experts_on_cpu: int = 0) -> str:
    """The verdict in words; a split between GPU and RAM names its layer counts when they are known,
    experts kept on the CPU the number of layers whose experts they are."""
    words = VERDICT_WORDS[kind]
    if kind is VerdictKind.EXPERTS_CPU and experts_on_cpu:
        layers = "1 layer's" if experts_on_cpu == 1 else f"{experts_on_cpu} layers'"
        return f"Fits with {layers} experts on the CPU"
    if kind is VerdictKind.PARTIAL and n_layers:
        return f"{words} ({n_gpu_layers} of {n_layers} layers on the GPU)"
    return words
