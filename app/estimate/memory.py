"""The memory estimate: bytes per device for a model and its load settings. Pure functions, no I/O.

What is exact and what is modelled:

* weights — exact: tensor bytes from the file's tensor infos, placed by llama.cpp's layer rules
  (see placement.py; the token embeddings stay on the host; a tied output head is copied to the GPU
  when the output layer is offloaded). With mmap the host part is the mapped file (page cache),
  without mmap an allocated copy: the same number of bytes of RAM either way. Not counted: the CPU
  backend's repacked copies of some quantized weights (CPU_REPACK buffers) — they depend on the CPU's
  instruction set and on the tensor type; for Gemma 3 270M Q4_K_M on AVX2 they add about 5%.
* KV cache — exact, per layer (kv.py).
* output buffer — exact at load (compute.py).
* compute buffers — a model calibrated against llama.cpp (compute.py), not exact.
* fixed overheads — host: the tokenizer tables (about 64 bytes per vocabulary entry); GPU: a reserve
  for the GPU runtime itself (CUDA context, cuBLAS workspace), which lives outside llama.cpp's
  buffers. Both are allowances, not measurements.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from app.estimate.compute import compute_buffers, output_buffer_bytes
from app.estimate.kv import KvCache, context_sizes, kv_cache
from app.estimate.model import ModelShape
from app.estimate.placement import Placement, place_layers
from app.estimate.settings import LoadSettings

MIB = 1024 * 1024
TOKENIZER_BYTES_PER_TOKEN = 64
GPU_RUNTIME_BYTES = 300 * MIB


@dataclass(frozen=True, slots=True)
class Part:
    """One line of the breakdown."""

    label: str
    device: str  # "gpu" or "cpu"
    bytes: int
    exact: bool


@dataclass(frozen=True, slots=True)
class DeviceBytes:
    gpu: int
    cpu: int

    @property
    def total(self) -> int:
        return self.gpu + self.cpu


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    settings: LoadSettings
    placement: Placement
    n_ctx: int  # after llama.cpp's rounding
    weights: DeviceBytes
    kv: KvCache
    output_bytes: int  # host
    compute: DeviceBytes
    fixed: DeviceBytes

    @property
    def n_gpu_layers(self) -> int:
        return self.placement.n_gpu_layers

    @property
    def kv_bytes(self) -> int:
        return self.kv.total_bytes

    @property
    def kv_device(self) -> DeviceBytes:
        return DeviceBytes(gpu=self.kv.bytes_on(True), cpu=self.kv.bytes_on(False))

    @property
    def vram_bytes(self) -> int:
        return self.weights.gpu + self.kv_device.gpu + self.compute.gpu + self.fixed.gpu

    @property
    def ram_bytes(self) -> int:
        return self.weights.cpu + self.kv_device.cpu + self.output_bytes + self.compute.cpu + self.fixed.cpu

    @property
    def breakdown(self) -> tuple[Part, ...]:
        kv = self.kv_device
        parts = [
            Part("weights", "gpu", self.weights.gpu, True),
            Part("weights", "cpu", self.weights.cpu, True),
            Part("KV cache", "gpu", kv.gpu, True),
            Part("KV cache", "cpu", kv.cpu, True),
            Part("output buffer", "cpu", self.output_bytes, True),
            Part("compute buffer", "gpu", self.compute.gpu, False),
            Part("compute buffer", "cpu", self.compute.cpu, False),
            Part("GPU runtime", "gpu", self.fixed.gpu, False),
            Part("tokenizer and runtime", "cpu", self.fixed.cpu, False),
        ]
        return tuple(part for part in parts if part.bytes)


@functools.lru_cache(maxsize=256)
def _layer_suffix(model: ModelShape) -> tuple[int, ...]:
    """`[i]`: bytes of repeating layers i… (what moves to the GPU when offloading starts at layer i)."""
    return (*reversed(tuple(itertools.accumulate(reversed(model.layer_bytes)))), 0)


def weight_bytes(model: ModelShape, placement: Placement) -> DeviceBytes:
    first = min(placement.first_gpu_layer, model.n_layer) if placement.n_gpu_layers else model.n_layer
    gpu = _layer_suffix(model)[first]
    cpu = model.input_bytes + sum(model.layer_bytes) - gpu  # the input layer never leaves the host
    if placement.output_on_gpu:
        gpu += model.output_bytes + model.tied_output_bytes
    else:
        cpu += model.output_bytes
    return DeviceBytes(gpu=gpu, cpu=cpu)


def estimate(model: ModelShape, settings: LoadSettings, *, gpu_available: bool = True) -> MemoryEstimate:
    """Bytes per device for loading `model` with `settings`. `gpu_available=False` models a machine
    without a GPU backend, where llama.cpp ignores n_gpu_layers."""
    placement = place_layers(model.n_layer, settings.n_gpu_layers, gpu_available)
    sizes = context_sizes(model, settings)
    kv = kv_cache(model, settings, placement)
    compute = compute_buffers(model, settings, placement)
    fixed = DeviceBytes(
        gpu=GPU_RUNTIME_BYTES if placement.n_gpu_layers else 0,
        cpu=model.n_vocab * TOKENIZER_BYTES_PER_TOKEN,
    )
    return MemoryEstimate(
        settings=settings,
        placement=placement,
        n_ctx=sizes.n_ctx,
        weights=weight_bytes(model, placement),
        kv=kv,
        output_bytes=output_buffer_bytes(model, settings),
        compute=DeviceBytes(gpu=compute.gpu, cpu=compute.cpu),
        fixed=fixed,
    )
