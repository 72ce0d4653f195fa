"""Load settings for the memory model, with the defaults of the pinned llama.cpp.

Defaults worth knowing (llama.cpp b-pinned, `llama_context_default_params` and `common_params`):

* `n_ctx` is rounded up to a multiple of 256 by the context before anything is sized.
* `n_batch` is capped at `n_ctx` (causal models); `n_ubatch` at `n_batch`.
* `flash_attn` defaults to *auto*: the KV cache is laid out as for flash attention (V not transposed),
  and the context then enables it when the backend of every layer supports it (the CPU backend does).
* `swa_full`: the C API default is *true*, the llama.cpp tools (`common_params`) default to *false*,
  and llama-cpp-python keeps the C default unless `swa_full=` is passed. We default to *false*
  (the small sliding-window cache); whoever loads the model must pass the same value.
* `n_outputs_max` (how many logits rows one ubatch may produce) defaults to `n_batch`; this sizes the
  logits tensor of the worst-case graph and so the compute buffer (262k-vocab models: 1 MiB per row).
* A quantized V cache needs flash attention: llama.cpp refuses it otherwise.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import Enum
from typing import Any

from app.core.errors import EstimateError

# The cache types llama.cpp accepts for --cache-type-k / --cache-type-v.
_KV_CACHE_TYPES = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "IQ4_NL", "Q5_0", "Q5_1")


@functools.cache
def _kv_type_table() -> dict[str, tuple[int, int]]:
    """Values per block and bytes per block of each usable cache type, from the ggml type table."""
    from app.gguf.types import ggml_types_by_name

    table = ggml_types_by_name()
    return {name.lower(): (table[name].block_size, table[name].type_size) for name in _KV_CACHE_TYPES}


def kv_type_names() -> tuple[str, ...]:
    return tuple(_kv_type_table())


def is_quantized_kv(type_name: str) -> bool:
    return type_name not in ("f32", "f16", "bf16")


def block_size(type_name: str) -> int:
    return _kv_type_table()[type_name][0]


def row_bytes(type_name: str, n_values: int) -> int:
    """Bytes of one row of `n_values` values of a cache type (llama.cpp's ggml_row_size)."""
    block, size = _kv_type_table()[type_name]
    if n_values % block:
        raise EstimateError(
            f"KV cache type {type_name} needs rows that are a multiple of {block} values, this model has {n_values}",
            hint="choose an f16 cache for this model",
        )
    return n_values // block * size


class FlashAttn(str, Enum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


GPU_LAYERS_ALL = -1


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """How a model is to be loaded. `n_gpu_layers` < 0 (or "all" through `parse_gpu_layers`) means every
    layer including the output layer, as in llama.cpp."""

    n_ctx: int = 4096
    n_gpu_layers: int = GPU_LAYERS_ALL
    type_k: str = "f16"
    type_v: str = "f16"
    flash_attn: FlashAttn = FlashAttn.AUTO
    n_batch: int = 2048
    n_ubatch: int = 512
    swa_full: bool = False
    mmap: bool = True
    n_seq_max: int = 1
    kv_unified: bool = False
    offload_kqv: bool = True
    n_outputs_max: int = 0  # 0 = n_batch, as in llama.cpp
    n_cpu_moe: int = 0  # --n-cpu-moe: the expert tensors of the first N layers stay in host memory
    repack: bool = True  # --no-repack turns off the CPU backend's extra buffer types (CPU_REPACK)

    def __post_init__(self) -> None:
        table = _kv_type_table()
        for label, value in (("K", self.type_k), ("V", self.type_v)):
            if value not in table:
                raise EstimateError(f"unknown {label} cache type {value!r}", hint=f"use one of {', '.join(table)}")
        if self.n_ctx < 0 or self.n_batch < 1 or self.n_ubatch < 1 or self.n_seq_max < 1:
            raise EstimateError("context, batch sizes and sequence count must be positive")
        if self.n_outputs_max < 0:
            raise EstimateError("n_outputs_max must not be negative")
        if self.n_cpu_moe < 0:
            raise EstimateError("the number of layers whose experts stay on the CPU must not be negative")
        if is_quantized_kv(self.type_v) and self.flash_attn is FlashAttn.OFF:
            raise EstimateError(
                f"a quantized V cache ({self.type_v}) needs flash attention",
                hint="turn flash attention on (or auto), or use an f16 V cache",
            )


def parse_gpu_layers(value: str | int) -> int:
    """`all` / -1 → all layers; otherwise a non-negative layer count."""
    if isinstance(value, int):
        return GPU_LAYERS_ALL if value < 0 else value
    text = value.strip().lower()
    if text in ("all", "max", "-1"):
        return GPU_LAYERS_ALL
    try:
        n = int(text)
    except ValueError:
        raise EstimateError(f"GPU layers must be a number or 'all', not {value!r}") from None
    return GPU_LAYERS_ALL if n < 0 else n


def parse_flash_attn(value: str | bool | None) -> FlashAttn:
    if value is None:
        return FlashAttn.AUTO
    if isinstance(value, bool):
        return FlashAttn.ON if value else FlashAttn.OFF
    try:
        return FlashAttn(value.strip().lower())
    except ValueError:
        raise EstimateError(f"flash attention must be on, off or auto, not {value!r}") from None


def llama_cpp_kwargs(settings: LoadSettings) -> dict[str, Any]:
    """Keyword arguments for `llama_cpp.Llama` that load a model the way `settings` was estimated.

    Pass them all: llama-cpp-python's own defaults differ from llama.cpp's (n_batch 512, flash attention
    off, and swa_full left at the C default, true). `Llama` has no "auto" flash attention; auto is
    estimated as on, which is what llama.cpp's auto resolves to on the CPU and CUDA backends. Sequences
    (n_seq_max), unified KV and n_outputs_max are not `Llama` arguments: it uses 1, false and n_batch;
    nor is n_cpu_moe (the app's engine passes it as tensor buffer-type overrides, app.chat.moe).
    """
    from app.gguf.types import ggml_types_by_name

    types = ggml_types_by_name()
    return {
        "n_ctx": settings.n_ctx,
        "n_gpu_layers": settings.n_gpu_layers,
        "n_batch": settings.n_batch,
        "n_ubatch": settings.n_ubatch,
        "flash_attn": settings.flash_attn is not FlashAttn.OFF,
        "swa_full": settings.swa_full,
        "type_k": types[settings.type_k.upper()].id,
        "type_v": types[settings.type_v.upper()].id,
        "use_mmap": settings.mmap,
        "offload_kqv": settings.offload_kqv,
    }
