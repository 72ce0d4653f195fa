"""Pick the quant of one model that suits the machine, and say why.

Order of preference: the highest quality that fits entirely in the GPU; else the highest quality that
runs usably with partial offload (at least half of the weight bytes on the GPU); else the highest
quality that fits in RAM (CPU only, or a smaller share on the GPU). Within one model a larger file
carries more bits per weight, so file size ranks quality.

Files known only by size (Discover lists them before any download) are estimated from a *reference*
shape — one header of the same model read remotely — with their weights scaled to their size; the KV
cache does not depend on the weight quantization, so it stays exact. Without any header the verdict
counts the weights only and says so. Everything here is pure computation: the Discover page can call
`recommend` on every context-length change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.estimate.hardware import HardwareSpec
from app.estimate.memory import GPU_RUNTIME_BYTES
from app.estimate.model import ModelShape
from app.estimate.planner import DEFAULT_MARGIN, Verdict, verdict_context
from app.estimate.settings import LoadSettings
from app.estimate.verdict import VerdictKind, verdict_words

USABLE_GPU_SHARE = 0.5
GIB = 1024**3


@dataclass(frozen=True, slots=True)
class QuantFile:
    """One quant of a model: its label ("Q4_K_M"), size in bytes, ggml file type if known, and its
    shape when its own header was read."""

    label: str
    size_bytes: int
    file_type: int | None = None
    shape: ModelShape | None = None


@dataclass(frozen=True, slots=True)
class FileVerdict:
    file: QuantFile
    kind: VerdictKind
    n_gpu_layers: int
    n_layers: int  # 0 when unknown (no header)
    ram_bytes: int
    vram_bytes: int
    exact: bool  # False: weights only, no header to size the KV cache from
    detail: Verdict | None
    max_ctx: int = 0  # the largest context (a multiple of 256) the verdict holds at; 0: none or unknown

    @property
    def experts_on_cpu(self) -> int:
        """Layers whose experts stay in RAM (EXPERTS_CPU: llama.cpp's --n-cpu-moe)."""
        return self.detail.estimate.experts_on_cpu if self.detail is not None else 0

    @property
    def label(self) -> str:
        return verdict_words(self.kind, self.n_gpu_layers, self.n_layers, self.experts_on_cpu)

    @property
    def usable_partial(self) -> bool:
        if self.kind is VerdictKind.EXPERTS_CPU:  # attention and the shared weights all on the GPU
            return True
        if self.kind is not VerdictKind.PARTIAL:
            return False
        return self.detail is None or self.detail.gpu_share >= USABLE_GPU_SHARE


@dataclass(frozen=True, slots=True)
class Recommendation:
    verdicts: tuple[FileVerdict, ...]
    best: FileVerdict | None
    reason: str


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def _size_only(file: QuantFile, hardware: HardwareSpec, margin: int, projector_bytes: int = 0) -> FileVerdict:
    size = file.size_bytes + projector_bytes
    if hardware.has_gpu and size + GPU_RUNTIME_BYTES + margin <= hardware.vram_free:
        kind, ram, vram = VerdictKind.FULL_GPU, 0, size
    elif hardware.has_gpu and size <= hardware.vram_free + hardware.ram_available:
        kind, ram, vram = VerdictKind.PARTIAL, max(size - hardware.vram_free, 0), min(size, hardware.vram_free)
    elif size <= hardware.ram_available:
        kind, ram, vram = VerdictKind.CPU_ONLY, size, 0
    else:
        kind, ram, vram = VerdictKind.WONT_FIT, size, 0
    return FileVerdict(file, kind, 0, 0, ram, vram, False, None)


def main_type(label: str) -> str | None:
    """The main ggml type of a quant named like llama-quantize's types ("Q4_K_M" -> "Q4_K"), else None."""
    from app.core.errors import AppError
    from app.quantize.types import quant_type

    try:
        return quant_type(label).base
    except AppError:
        return None


def judge(
    file: QuantFile,
    settings: LoadSettings,
    hardware: HardwareSpec,
    reference: ModelShape | None = None,
    margin: int = DEFAULT_MARGIN,
    projector_bytes: int = 0,
) -> FileVerdict:
    """`projector_bytes`: a vision projector loaded beside it (weights and one image's compute buffer), counted
    on the device mtmd gives it (app.estimate.projector)."""
    from app.estimate.projector import images_verdict, projector_on_gpu

    shape = file.shape or (reference.scaled_weights(file.size_bytes, main_type(file.label)) if reference else None)
    if shape is None:
        return _size_only(file, hardware, margin, projector_bytes)
    result, left = images_verdict(shape, settings, hardware, projector_bytes, margin)
    est = result.estimate
    max_ctx = verdict_context(shape, settings, left, result, margin)
    on_gpu = projector_on_gpu(result.n_gpu_layers, hardware)
    ram, vram = est.ram_bytes + (0 if on_gpu else projector_bytes), est.vram_bytes + (projector_bytes if on_gpu else 0)
    return FileVerdict(file, result.kind, result.n_gpu_layers, result.n_layers, ram, vram, True, result, max_ctx)


def _best(candidates: list[FileVerdict]) -> FileVerdict | None:
    return max(candidates, key=lambda v: (v.file.size_bytes, v.file.label), default=None)


def recommend(
    files: Sequence[QuantFile],
    hardware: HardwareSpec,
    settings: LoadSettings | None = None,
    reference: ModelShape | None = None,
    margin: int = DEFAULT_MARGIN,
    projector_bytes: int = 0,
) -> Recommendation:
    """Each file's verdict and the recommended file, with the reason in words (`projector_bytes`: with images)."""
    settings = settings or LoadSettings()
    verdicts = tuple(judge(f, settings, hardware, reference, margin, projector_bytes) for f in files)
    ctx = f"{settings.n_ctx} tokens of context" + (" and images" if projector_bytes else "")
    note = "" if all(v.exact for v in verdicts) else " (no header read: weights only, KV cache not counted)"

    full = _best([v for v in verdicts if v.kind is VerdictKind.FULL_GPU])
    if full:
        reason = (
            f"{full.file.label} is the highest quality that fits entirely in the GPU: "
            f"{_gib(full.vram_bytes)} of {_gib(hardware.vram_free)} free VRAM with {ctx}{note}."
        )
        return Recommendation(verdicts, full, reason)
    partial = _best([v for v in verdicts if v.usable_partial])
    if partial:
        layers = f"{partial.n_gpu_layers} of {partial.n_layers} layers" if partial.n_layers else "part of it"
        ram = f"{_gib(partial.ram_bytes)} in RAM"
        if partial.kind is VerdictKind.EXPERTS_CPU:
            layers = "every layer"
            ram = f"the experts of {partial.experts_on_cpu} layers in RAM ({_gib(partial.ram_bytes)})"
        reason = (
            f"Nothing fits entirely in the GPU's {_gib(hardware.vram_free)} free; {partial.file.label} is the "
            f"highest quality that runs with {layers} on the GPU and {ram} with {ctx}{note}."
        )
        return Recommendation(verdicts, partial, reason)
    runs = _best([v for v in verdicts if v.kind in (VerdictKind.PARTIAL, VerdictKind.CPU_ONLY)])
    if runs:
        where = "mostly on the CPU" if runs.kind is VerdictKind.PARTIAL else "on the CPU only"
        gpu = "" if hardware.has_gpu else " (no usable GPU)"
        reason = (
            f"{runs.file.label} is the highest quality that fits in RAM{gpu}: it runs {where}, "
            f"{_gib(runs.ram_bytes)} of {_gib(hardware.ram_available)} available with {ctx}{note}. Expect slow replies."
        )
        return Recommendation(verdicts, runs, reason)
    smallest = min(verdicts, key=lambda v: v.ram_bytes + v.vram_bytes, default=None)
    need = f" The smallest needs {_gib(smallest.ram_bytes + smallest.vram_bytes)}." if smallest else ""
    reason = (
        f"None of these files fits: {_gib(hardware.ram_available)} RAM and {_gib(hardware.vram_free)} VRAM "
        f"are available.{need} Try a shorter context or a smaller model."
    )
    return Recommendation(verdicts, None, reason)
