"""Tensor buffer-type overrides for llama.cpp's model loader, as the engine passes them for --n-cpu-moe.

llama-cpp-python declares `llama_model_params.tensor_buft_overrides` as a bare pointer and exposes neither
the struct nor ggml's buffer-type functions, so both are declared here over ctypes. The buffer type must be
`ggml_backend_cpu_buffer_type()` itself: llama-model-loader.cpp compares the pointer with it and then picks
among the CPU's buffer types (the repacked one included), exactly as for llama.cpp's own --n-cpu-moe.
The array and the pattern bytes must outlive the load; `TensorOverrides` holds them.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

from app.estimate.engine import cpu_moe_pattern


class _Override(ctypes.Structure):
    """struct llama_model_tensor_buft_override { const char * pattern; ggml_backend_buffer_type_t buft; }"""

    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


@dataclass(frozen=True, slots=True)
class TensorOverrides:
    """A NULL-terminated override array and the bytes its patterns point into (kept alive together)."""

    array: Any
    patterns: tuple[bytes, ...]

    @property
    def pointer(self) -> int:
        return ctypes.cast(self.array, ctypes.c_void_p).value or 0


def cpu_buffer_type(llama: Any) -> int:
    """ggml_backend_cpu_buffer_type(), looked up through libllama (which links ggml)."""
    lib = llama.llama_cpp._lib
    fn = lib.ggml_backend_cpu_buffer_type
    fn.argtypes, fn.restype = [], ctypes.c_void_p
    return int(fn())


def cpu_moe_overrides(llama: Any, n_cpu_moe: int) -> TensorOverrides | None:
    """The overrides that keep the expert tensors of layers 0 … n_cpu_moe-1 in host memory; None for 0."""
    pattern = cpu_moe_pattern(n_cpu_moe)
    if pattern is None:
        return None
    encoded = pattern.encode()
    array = (_Override * 2)()
    array[0].pattern = encoded
    array[0].buft = cpu_buffer_type(llama)
    array[1].pattern = None  # the terminator
    array[1].buft = None
    return TensorOverrides(array, (encoded,))
