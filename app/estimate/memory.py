"""The memory estimate: bytes per device for a model and its load settings. Pure functions, no I/O.

What is exact and what is modelled:

* weights — exact: tensor bytes from the file's tensor infos (less the MTP blocks llama.cpp skips,
  model.py), placed by llama.cpp's layer rules
  (see placement.py; the token embeddings stay on the host; a tied output head is copied to the GPU
  when the output layer is offloaded). With `n_cpu_moe` N (llama.cpp's --n-cpu-moe) the expert tensors
  of the offloaded layers among the first N stay in host memory: llama-model-loader.cpp's override to
  the CPU buffer type picks from the CPU's buffer list, so they may be repacked (or, with a GPU host
  buffer and no mmap, land in pinned host memory: RAM either way). With mmap the host part is the
  mapped file (page cache), without mmap an allocated copy: the same number of bytes of RAM either way.
* repacked weights — exact: the CPU backend's CPU_REPACK buffer (cpu.py), which depends on the CPU
  features ggml was built with; on top of the mapped file with mmap, in place of the copies without.
* KV cache — exact, per layer (kv.py).
* recurrent state and indexer caches — exact, per layer (layout.py, state.py).
* output buffer — exact at load (compute.py).
* compute buffers — a model calibrated against llama.cpp (compute.py), not exact. Experts kept in host
  memory add their products to the CPU's buffer (`_compute`, fit against an RPC device). Not modelled:
  the copies of host-resident expert weights a CUDA device makes when it takes over their products for
  a large batch (op offload) — the RPC device never does, so only a GPU can measure them.
* fixed overheads — host: the tokenizer tables (about 64 bytes per vocabulary entry); GPU: a reserve
  for the GPU runtime itself (CUDA context, cuBLAS workspace), which lives outside llama.cpp's
  buffers. Both are allowances, not measurements.

`ram_bytes` / `vram_bytes` are what llama.cpp allocates — the buffers its log lists, the figure every
page and command shows; `ram_need` / `vram_need` add the fixed overheads and decide whether it fits.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass

from app.estimate.compute import compute_buffers, output_buffer_bytes
from app.estimate.cpu import NO_REPACK, CpuBackend, aligned, repacked
from app.estimate.kv import KvCache, context_sizes, kv_cache
from app.estimate.model import INPUT_LAYER, UNLOADED_LAYER, ModelShape
from app.estimate.placement import Placement, place_layers
from app.estimate.settings import LoadSettings
from app.estimate.state import StateCache, state_cache

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
    repack_bytes: int = 0  # the CPU_REPACK buffer
    repack_source_bytes: int = 0  # the file bytes of the repacked tensors that are not duplicates
    mapped_bytes: int | None = None  # with mmap: the file range mapped for the CPU (None: layout unknown)
    state: StateCache | None = None  # recurrent state and indexer key caches (state.py)
    experts_on_cpu: int = 0  # offloaded layers whose expert tensors stay in host memory (n_cpu_moe)
    expert_cpu_bytes: int = 0  # and the bytes of those expert tensors

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
    def host_weight_buffers(self) -> tuple[int, int]:
        """(plain or mapped weights, repacked weights) in host memory, as llama.cpp's model buffers."""
        if self.settings.mmap:
            mapped = self.weights.cpu if self.mapped_bytes is None else self.mapped_bytes
            return mapped, self.repack_bytes
        return self.weights.cpu - self.repack_source_bytes, self.repack_bytes

    @property
    def state_device(self) -> DeviceBytes:
        if self.state is None:
            return DeviceBytes(gpu=0, cpu=0)
        return DeviceBytes(gpu=self.state.bytes_on(True), cpu=self.state.bytes_on(False))

    @property
    def vram_bytes(self) -> int:
        return self.weights.gpu + self.kv_device.gpu + self.state_device.gpu + self.compute.gpu

    @property
    def ram_bytes(self) -> int:
        state = self.state_device.cpu
        return sum(self.host_weight_buffers) + self.kv_device.cpu + state + self.output_bytes + self.compute.cpu

    @property
    def vram_need(self) -> int:
        return self.vram_bytes + self.fixed.gpu

    @property
    def ram_need(self) -> int:
        return self.ram_bytes + self.fixed.cpu

    @property
    def breakdown(self) -> tuple[Part, ...]:
        kv = self.kv_device
        plain, repacked_bytes = self.host_weight_buffers
        parts = [
            Part("weights", "gpu", self.weights.gpu, True),
            Part("weights", "cpu", plain, True),
            Part("repacked weights", "cpu", repacked_bytes, True),
            Part("KV cache", "gpu", kv.gpu, True),
            Part("KV cache", "cpu", kv.cpu, True),
            *self._state_parts(),
            Part("output buffer", "cpu", self.output_bytes, True),
            Part("compute buffer", "gpu", self.compute.gpu, False),
            Part("compute buffer", "cpu", self.compute.cpu, False),
            Part("GPU runtime", "gpu", self.fixed.gpu, False),
            Part("tokenizer and runtime", "cpu", self.fixed.cpu, False),
        ]
        return tuple(part for part in parts if part.bytes)

    def _state_parts(self) -> tuple[Part, ...]:
        if self.state is None:
            return ()
        parts = []
        for device, gpu in (("gpu", True), ("cpu", False)):
            recurrent = self.state.recurrent_on(gpu)
            parts.append(Part("recurrent state", device, recurrent, True))
            extra = "compressed caches" if self.state.sizes.compressed else "indexer cache"  # DeepSeek-V4's
            parts.append(Part(extra, device, self.state.bytes_on(gpu) - recurrent, True))
        return tuple(parts)


@functools.lru_cache(maxsize=256)
def _layer_suffix(model: ModelShape) -> tuple[int, ...]:
    """`[i]`: bytes of repeating layers i… (what moves to the GPU when offloading starts at layer i)."""
    return (*reversed(tuple(itertools.accumulate(reversed(model.layer_bytes)))), 0)


def cpu_moe_layers(model: ModelShape, placement: Placement, n_cpu_moe: int) -> frozenset[int]:
    """The offloaded layers whose expert tensors --n-cpu-moe `n_cpu_moe` keeps in host memory (the
    overrides name layers 0 … N-1; on layers already on the CPU they change nothing)."""
    if not model.expert_bytes or n_cpu_moe <= 0:
        return frozenset()
    first = min(n_cpu_moe, model.n_layer)
    return frozenset(il for il in range(first) if model.expert_bytes[il] and placement.layer_on_gpu(il))


def weight_bytes(model: ModelShape, placement: Placement, experts_on_cpu: frozenset[int] = frozenset()) -> DeviceBytes:
    first = min(placement.first_gpu_layer, model.n_layer) if placement.n_gpu_layers else model.n_layer
    moved = sum(model.expert_bytes[il] for il in experts_on_cpu)
    gpu = _layer_suffix(model)[first] - moved
    cpu = model.input_bytes + sum(model.layer_bytes) - gpu  # the input layer never leaves the host
    if placement.output_on_gpu:
        gpu += model.output_bytes + model.tied_output_bytes
    else:
        cpu += model.output_bytes
    return DeviceBytes(gpu=gpu, cpu=cpu)


@dataclass(frozen=True, slots=True)
class Repack:
    buffer: int  # the CPU_REPACK buffer
    source: int  # file bytes of the non-duplicate tensors it holds
    indexes: frozenset[int]  # of the repacked `ModelShape.matmul_weights`


def repack_bytes(
    model: ModelShape, placement: Placement, cpu: CpuBackend, experts_on_cpu: frozenset[int] = frozenset()
) -> Repack:
    """The CPU backend's repacked copies of the weights of the layers kept on the CPU (and of the
    expert tensors --n-cpu-moe keeps there)."""
    buffer = source = 0
    indexes = set()
    for index, weight in enumerate(model.matmul_weights):
        on_cpu = not placement.layer_on_gpu(weight.layer) or (weight.expert and weight.layer in experts_on_cpu)
        if not on_cpu or not repacked(weight.type_name, weight.rows, cpu):
            continue
        buffer += aligned(weight.n_bytes)
        source += 0 if weight.duplicate else weight.n_bytes
        indexes.add(index)
    return Repack(buffer, source, frozenset(indexes))


def mapped_bytes(
    model: ModelShape,
    placement: Placement,
    repacked_indexes: frozenset[int],
    experts_on_cpu: frozenset[int] = frozenset(),
) -> int | None:
    """With mmap: per file, the range from the first to the last byte of the tensors the CPU buffer
    holds (neither offloaded nor repacked), as llama.cpp maps and reports it."""
    if not model.tensor_spans:
        return None
    ranges: dict[int, tuple[int, int]] = {}
    for span, (layer, part, start, end, index) in enumerate(model.tensor_spans):
        if layer == UNLOADED_LAYER:  # in no buffer: outside the range unless CPU tensors lie on both sides
            continue
        kept = span in model.expert_spans and layer in experts_on_cpu
        if (layer != INPUT_LAYER and placement.layer_on_gpu(layer) and not kept) or index in repacked_indexes:
            continue
        low, high = ranges.get(part, (start, end))
        ranges[part] = (min(low, start), max(high, end))
    return sum(high - low for low, high in ranges.values())


def _compute(
    model: ModelShape, settings: LoadSettings, placement: Placement, experts_on_cpu: frozenset[int]
) -> DeviceBytes:
    """The compute buffers (compute.py), and with experts kept in host memory the CPU's part of their
    layers: the expert products of those layers run on the CPU backend (the RPC check below)."""
    compute = compute_buffers(model, settings, placement)
    cpu = compute.cpu
    if experts_on_cpu:
        n_tokens = min(context_sizes(model, settings).n_ctx, settings.n_ubatch)
        used = max(model.n_expert_used, 1)
        # per token: gate, up and their product for the used experts, the used experts' outputs, and the
        # layer's input and output copied over from the device. Fit to the CPU compute buffer llama.cpp
        # reserves for two tiny MoEs offloaded to an RPC worker (2 to 14% over, ubatch 128 to 512).
        width = max(3 * model.n_ff[il] * used + model.n_embd * used + 2 * model.n_embd for il in experts_on_cpu)
        cpu = max(cpu, n_tokens * 4 * width)
    return DeviceBytes(gpu=compute.gpu, cpu=cpu)


def at_context(base: MemoryEstimate, model: ModelShape, n_ctx: int) -> MemoryEstimate:
    """`base` (an estimate of `model`) at another context: only what grows with the context — the KV
    cache, the indexer caches and the compute buffers — is worked out again (the context searches)."""
    settings = dataclasses.replace(base.settings, n_ctx=n_ctx)
    placement = base.placement
    experts_on_cpu = cpu_moe_layers(model, placement, settings.n_cpu_moe) if base.experts_on_cpu else frozenset()
    return dataclasses.replace(
        base,
        settings=settings,
        n_ctx=context_sizes(model, settings).n_ctx,
        kv=kv_cache(model, settings, placement),
        compute=_compute(model, settings, placement, experts_on_cpu),
        state=state_cache(model, settings, placement) if base.state is not None else None,
    )


def estimate(
    model: ModelShape, settings: LoadSettings, *, gpu_available: bool = True, cpu: CpuBackend = NO_REPACK
) -> MemoryEstimate:
    """Bytes per device for loading `model` with `settings`. `gpu_available=False` models a machine
    without a GPU backend, where llama.cpp ignores n_gpu_layers; `cpu` is ggml's CPU backend as built
    (its features decide which weights it repacks, unless `settings.repack` is off; the default repacks
    nothing)."""
    placement = place_layers(model.n_layer, settings.n_gpu_layers, gpu_available)
    experts_on_cpu = cpu_moe_layers(model, placement, settings.n_cpu_moe)
    # Without repacking llama.cpp adds none of the CPU's extra buffer types: every host weight stays plain.
    repack = repack_bytes(model, placement, cpu if settings.repack else NO_REPACK, experts_on_cpu)
    sizes = context_sizes(model, settings)
    kv = kv_cache(model, settings, placement)
    compute = _compute(model, settings, placement, experts_on_cpu)
    fixed = DeviceBytes(
        gpu=GPU_RUNTIME_BYTES if placement.n_gpu_layers else 0,
        cpu=model.n_vocab * TOKENIZER_BYTES_PER_TOKEN,
    )
    return MemoryEstimate(
        settings=settings,
        placement=placement,
        n_ctx=sizes.n_ctx,
        weights=weight_bytes(model, placement, experts_on_cpu),
        kv=kv,
        output_bytes=output_buffer_bytes(model, settings),
        compute=compute,
        fixed=fixed,
        repack_bytes=repack.buffer,
        repack_source_bytes=repack.source,
        mapped_bytes=mapped_bytes(model, placement, repack.indexes, experts_on_cpu) if settings.mmap else None,
        experts_on_cpu=len(experts_on_cpu),
        expert_cpu_bytes=sum(model.expert_bytes[il] for il in experts_on_cpu),
        state=state_cache(model, settings, placement) if _has_state(model) else None,
    )


def _has_state(model: ModelShape) -> bool:
    """A recurrent state, an indexer cache or DeepSeek-V4's compressed caches (state.py)."""
    return bool(model.rs_layers or model.indexer_k or model.compress_ratios)
