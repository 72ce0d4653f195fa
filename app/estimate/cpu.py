"""The CPU backend's repacked weights (the `CPU_REPACK` model buffer), by the rules of the pinned ggml.

What ggml-cpu does (ggml/src/ggml-cpu/repack.cpp, ggml-cpu.cpp; llama.cpp's llama-model-loader.cpp), in
our words:

* llama.cpp offers each weight of a layer kept on the CPU first to the CPU backend's extra buffer types
  (the model's CPU buffer list: accelerators, a GPU's host buffer, the extra types, then plain CPU) and
  takes the first one that supports the op the weight is used in.
* The repack buffer type supports only matrix products: a 2-D weight used by MUL_MAT, or a 3-D expert
  stack used by MUL_MAT_ID. Token embeddings (GET_ROWS) are never repacked; a tied output head is
  loaded a second time for its MUL_MAT and may be.
* Whether a tensor is repacked depends on its type, the CPU features ggml was built with and the number
  of rows `ne[1]` (the interleave needs whole groups of 4 or 8 rows); see `_RULES`.
* A repacked tensor takes exactly its `ggml_nbytes` (the repack buffer type has no alloc-size hook),
  placed at 32-byte alignment; all of them live in one `CPU_REPACK` buffer.
* With mmap the file stays mapped in full (`CPU_Mapped`) and the repacked copies come on top; without
  mmap the repacked tensors are not in the plain CPU buffer, so the copies replace them.
* When the model has a GPU device whose backend has a host buffer type (CUDA, HIP and MUSA through
  ggml-cuda, SYCL, Vulkan, CANN, OpenVINO, Hexagon; not Metal), llama.cpp offers that host buffer
  first and takes it for every CPU weight (with mmap it is swapped for the plain CPU buffer), so
  nothing is repacked. Derived from the source; this machine has no GPU to check it.
* llama.cpp's --no-repack (`LoadSettings.repack`, the engine's `use_extra_bufts`) leaves the extra types
  out of that list: nothing is repacked and every CPU weight stays in the plain (or mapped) buffer.

The features come from ggml itself (`llama_print_system_info`, through app.hardware's probe), never
from guessing at the CPU. Not modelled: the AMX buffer type (only in builds for AMX-capable CPUs),
KleidiAI (Arm builds with GGML_CPU_KLEIDIAI) and RISC-V vector layouts; `CpuBackend.exact` says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

TENSOR_ALIGNMENT = 32
# GPU backends whose device has a host buffer type, which llama.cpp prefers over the CPU extra types.
_HOST_BUFFER_BACKENDS = ("cuda", "hip", "musa", "sycl", "vulkan", "cann", "openvino", "hexagon")
_UNMODELLED_EXTRA = ("AMX_INT8", "KLEIDIAI")

# ggml type -> the (features all required, rows divisible by) pairs under which repack.cpp's
# ggml_repack_get_optimal_repack_type returns a layout (any pair that holds is enough).
_AVX2, _AVX512 = ("AVX2",), ("AVX512",)
_I8MM, _DOT = ("NEON", "MATMUL_INT8"), ("NEON", "DOTPROD")
_RULES: Mapping[str, tuple[tuple[tuple[str, ...], int], ...]] = {
    "Q4_0": ((_AVX2, 8), (_I8MM, 4), (_DOT, 4), (("VXE",), 4)),
    "Q4_K": ((_AVX2, 8), (_I8MM, 8), (_DOT, 8)),
    "Q2_K": ((_AVX512, 8),),
    "Q5_K": ((_I8MM, 8), (_DOT, 8)),
    "Q6_K": ((_I8MM, 8), (_DOT, 8)),
    "IQ4_NL": ((_AVX2, 8), (_DOT, 4)),
    "MXFP4": ((_AVX2, 8), (_DOT, 4)),
    "Q8_0": ((_I8MM, 4), (_DOT, 4)),
    "Q1_0": ((_I8MM, 4), (_DOT, 4)),
}
_SVE_Q4_0_CNT = "32"  # Q4_0 also repacks on SVE with int8 matmul when the SVE width is one Q8_0 block


@dataclass(frozen=True, slots=True)
class CpuBackend:
    """ggml's CPU backend as built: its feature flags (name -> value, "1" for plain flags) and whether a
    GPU backend's host buffer takes the CPU weights first."""

    features: Mapping[str, str] = field(default_factory=dict)
    gpu_host_buffer: bool = False

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.features.items())), self.gpu_host_buffer))

    @property
    def repacks(self) -> bool:
        return "REPACK" in self.features and not self.gpu_host_buffer

    @property
    def exact(self) -> bool:
        """False where an extra buffer type we do not model may take weights."""
        return self.gpu_host_buffer or not any(name in self.features for name in _UNMODELLED_EXTRA)

    def has(self, names: Iterable[str]) -> bool:
        return all(self.features.get(name) == "1" for name in names)


NO_REPACK = CpuBackend()


def parse_system_info(text: str) -> dict[str, dict[str, str]]:
    """`llama_print_system_info()` ("CPU : SSE3 = 1 | AVX2 = 1 | … | REPACK = 1 | CUDA : …") as
    backend name -> feature -> value."""
    backends: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for item in text.split("|"):
        item = item.strip()
        if not item:
            continue
        if " : " in item:  # "CPU : SSE3 = 1": a backend's name, then its first feature
            name, _, item = item.partition(" : ")
            current = backends.setdefault(name.strip(), {})
        key, sep, value = item.partition("=")
        if current is not None and sep:
            current[key.strip()] = value.strip()
    return backends


def cpu_backend(system_info: str, backends: Iterable[str] = (), gpu_device: bool = True) -> CpuBackend:
    """The CPU backend described by llama.cpp's system info and the ggml backend libraries shipped;
    `gpu_device`: whether the machine has a GPU such a backend can use (without one, llama.cpp's model
    has no GPU device and so no host buffer type before the CPU's extra ones)."""
    parsed = parse_system_info(system_info)
    names = {name.lower() for name in (*backends, *parsed)}
    host_buffer = any(name.startswith(prefix) for name in names for prefix in _HOST_BUFFER_BACKENDS)
    return CpuBackend(features=dict(parsed.get("CPU", {})), gpu_host_buffer=gpu_device and host_buffer)


def repacked(type_name: str, rows: int, cpu: CpuBackend) -> bool:
    """Whether ggml's CPU backend repacks a matrix-product weight of this type with `rows` rows (ne[1])."""
    if not cpu.repacks:
        return False
    for needed, multiple in _RULES.get(type_name.upper(), ()):
        if rows % multiple == 0 and cpu.has(needed):
            return True
    sve = type_name.upper() == "Q4_0" and cpu.has(("SVE", "MATMUL_INT8"))
    return sve and cpu.features.get("SVE_CNT") == _SVE_Q4_0_CNT and rows % 8 == 0


def aligned(n_bytes: int) -> int:
    return (n_bytes + TENSOR_ALIGNMENT - 1) // TENSOR_ALIGNMENT * TENSOR_ALIGNMENT
