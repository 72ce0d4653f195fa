"""What the Chat load panel shows before loading: a model file's facts and the memory its settings take.

Pure computation on frozen values (plus one header read in `read_model_file`, which callers run off
the GUI thread). The figures come from the same estimate, fed by the same engine mapping
(engine.py), as Discover's and the `estimate` command's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.chat.protocol import EngineSettings
from app.core.errors import AppError
from app.estimate.engine import engine_load_settings
from app.estimate.hardware import HardwareSpec
from app.estimate.memory import MemoryEstimate, estimate
from app.estimate.model import ModelShape
from app.estimate.planner import classify
from app.estimate.verdict import VerdictKind, verdict_words

DEFAULT_CTX = 4096


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A GGUF file's facts for the load panel. `shape` is None when the memory model cannot describe
    it, with the reason in `shape_error`."""

    path: str
    name: str
    n_ctx_train: int
    n_layer: int
    shape: ModelShape | None
    shape_error: str = ""


@dataclass(frozen=True, slots=True)
class MemoryView:
    """The memory bar's input: bytes per part on each device (llama.cpp's buffers), capacities, the
    verdict in words. `kind` is None before the hardware is known."""

    vram: tuple[tuple[str, int], ...]
    ram: tuple[tuple[str, int], ...]
    vram_cap: int
    ram_cap: int
    verdict: str
    ok: bool
    kind: VerdictKind | None = None

    @property
    def ram_bytes(self) -> int:
        return sum(size for _label, size in self.ram)

    @property
    def vram_bytes(self) -> int:
        return sum(size for _label, size in self.vram)


def read_model_file(path: str | Path) -> ModelFile:
    """Read a GGUF header (a split set through any of its parts) for the load panel."""
    from app.estimate.shape import shape_from_header
    from app.gguf import model_facts, read_header

    header = read_header(path)
    facts = model_facts(header)
    shape, error = None, ""
    try:
        shape = shape_from_header(header)
    except AppError as exc:
        error = str(exc)
    name = facts.name or Path(path).stem
    return ModelFile(str(path), name, facts.context_length or DEFAULT_CTX, facts.n_layer, shape, error)


def engine_estimate(shape: ModelShape, settings: EngineSettings, hardware: HardwareSpec | None) -> MemoryEstimate:
    """The memory the engine takes for `settings` on this machine (no GPU backend and no repacking
    assumed while the hardware is unknown)."""
    if hardware is None:
        return estimate(shape, engine_load_settings(settings), gpu_available=False)
    load = engine_load_settings(settings)
    return estimate(shape, load, gpu_available=hardware.has_gpu, cpu=hardware.cpu)


def memory_view(model: ModelFile, settings: EngineSettings, hardware: HardwareSpec | None) -> MemoryView:
    """Runs the memory model for the panel's settings (fast enough per slider move)."""
    if model.shape is None:
        raise ValueError("memory_view needs a model the memory model describes")
    est = engine_estimate(model.shape, settings, hardware)
    kv, state = est.kv_device, est.state_device  # a recurrent state / indexer cache shows as cache
    vram: tuple[tuple[str, int], ...] = (
        ("weights", est.weights.gpu), ("KV cache", kv.gpu + state.gpu), ("compute", est.compute.gpu))
    ram: tuple[tuple[str, int], ...] = (
        ("weights", sum(est.host_weight_buffers)),
        ("KV cache", kv.cpu + state.cpu),
        ("compute", est.compute.cpu + est.output_bytes),
    )
    left = hardware
    if settings.mmproj:  # a vision model's projector: its weights and the compute buffer for one image
        from app.estimate.projector import hardware_left, projector_file_memory

        size = projector_file_memory(settings.mmproj, flash_attn=settings.flash_attn != "off").total
        projector = (("projector", size),)
        on_gpu = settings.n_gpu_layers != 0 and hardware is not None and hardware.has_gpu  # mtmd's use_gpu
        vram, ram = (vram + projector, ram) if on_gpu else (vram, ram + projector)
        left = hardware_left(hardware, size, on_gpu) if hardware is not None else None  # the verdict counts it
    if hardware is None or left is None:
        return MemoryView(vram, ram, 0, 0, "hardware not probed yet", True)
    kind = classify(est, left)
    words = verdict_words(kind, est.placement.n_gpu_layers, est.placement.n_layer + 1, est.experts_on_cpu)
    ok = kind is not VerdictKind.WONT_FIT
    return MemoryView(vram, ram, hardware.vram_free, hardware.ram_available, words, ok, kind)
