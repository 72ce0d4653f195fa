"""The jobs that run in a worker process: convert, imatrix, and quantize (which may do the other two first).

Each takes a frozen spec and an `emit` function for events. Each claims its outputs' names first (a second
job aimed at one refuses, see app.core.claim); files are written under unique `*.part` names and renamed, so
a job killed at any moment leaves only its own *.part files, which the parent removes (see runner.py).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.claim import claimed
from app.core.errors import DiskFullError, QuantizeError
from app.quantize import events as ev
from app.quantize.quantizer import QuantizeOptions, TensorProgress, quantize_file
from app.quantize.types import QuantType, output_name, parse_types

if TYPE_CHECKING:  # numpy and gguf load in a job's process only when its job needs them
    from app.quantize.imatrix_file import Imatrix
    from app.quantize.projector import ProjectorPlan

log = logging.getLogger("app.quantize")

Emit = Callable[[ev.Event], None]
# Bound on output size / source size: every weight at 32 bits from 1.5625 (IQ1_S) is 20.5x.
_MAX_GROWTH = 21
_FREE_MARGIN = 256 * 2**20


@dataclass(frozen=True, slots=True)
class ConvertSpec:
    source: Path  # Hugging Face folder
    out: Path
    outtype: str = "f16"
    no_mtp: bool = False  # leave multi-token-prediction layers out (llama.cpp's --no-mtp)

    def planned_outputs(self) -> list[Path]:
        return [self.out]

    def scratch_outputs(self) -> list[Path]:
        return []


@dataclass(frozen=True, slots=True)
class ImatrixSpec:
    model: Path  # GGUF
    out: Path
    calibration: Path | None = None
    n_ctx: int = 512
    n_threads: int = 2

    def planned_outputs(self) -> list[Path]:
        return [self.out]

    def scratch_outputs(self) -> list[Path]:
        return []


@dataclass(frozen=True, slots=True)
class QuantizeSpec:
    source: Path  # GGUF or Hugging Face folder
    targets: tuple[str, ...]
    out_dir: Path
    imatrix: Path | None = None
    calibration: Path | None = None  # compute an imatrix from this text (default text when needed)
    imatrix_ctx: int = 512  # tokens per imatrix chunk, when one is computed
    options: QuantizeOptions = field(default_factory=QuantizeOptions)
    quality: bool = False
    intermediate_type: str = "f16"
    n_threads: int = 2
    overwrite: bool = False  # replace outputs that exist; otherwise the job refuses before any work
    keep_intermediate: bool = False  # keep the F16 a Hugging Face source is converted to
    no_mtp: bool = False  # convert a Hugging Face source without its multi-token-prediction layers
    variant: int = 0  # n > 0: every output name carries "-n" (a second set beside an earlier one)
    projector: str = "f16"  # a vision model's projector beside the quants: "f16", "q8_0", "" for none

    def projector_plan(self) -> ProjectorPlan | None:
        from app.quantize.projector import plan_projector

        return plan_projector(self.source, self.out_dir, self.stem(), self.projector)

    def types(self) -> list[QuantType]:
        return parse_types(",".join(self.targets))

    def stem(self) -> str:
        return self.source.name if self.source.is_dir() else self.source.stem

    def needs_imatrix(self) -> bool:
        return self.imatrix is None and (self.calibration is not None or any(q.needs_imatrix for q in self.types()))

    def intermediate(self) -> Path:
        return self.out_dir / _numbered(f"{self.source.name}-{self.intermediate_type.upper()}.gguf", self.variant)

    def imatrix_out(self) -> Path:
        return self.out_dir / _numbered(f"{self.stem()}.imatrix.gguf", self.variant)

    def output(self, q: QuantType) -> Path:
        return self.out_dir / _numbered(output_name(self.stem(), q), self.variant)

    def written(self) -> list[Path]:
        """The files this job writes (in order), quality sidecars aside."""
        paths = [self.output(q) for q in self.types()]
        if self.needs_imatrix():
            paths.insert(0, self.imatrix_out())
        if self.source.is_dir():
            paths.insert(0, self.intermediate())
        return list(dict.fromkeys(paths))  # an F16 target of a Hugging Face source is the intermediate itself

    def existing_outputs(self) -> list[Path]:
        """Files this job would replace: each needs the user's word (`overwrite`) or another name (`variant`)."""
        return [path for path in self.written() if path.exists()]

    def planned_outputs(self) -> list[Path]:
        from app.quantize.quality_file import sidecar_path

        quants = [self.output(q) for q in self.types()]
        sidecars = [sidecar_path(path) for path in quants] if self.quality else []
        projector = self.projector_plan()
        return [self.intermediate(), self.imatrix_out(), *quants, *sidecars, *([projector.target] if projector else [])]

    def scratch_outputs(self) -> list[Path]:
        """Finished files that are only a means to the quants: removed when the job ends, however it ends."""
        scratch = self.source.is_dir() and not self.keep_intermediate
        if not scratch or self.intermediate() in (self.output(q) for q in self.types()):
            return []
        return [self.intermediate()]


def _numbered(name: str, variant: int) -> str:
    """`model-Q4_K_M.gguf` → `model-Q4_K_M-2.gguf`; `model.imatrix.gguf` → `model-2.imatrix.gguf`."""
    if variant <= 0:
        return name
    for ending in (".imatrix.gguf", ".gguf"):
        if name.endswith(ending):
            return f"{name[: -len(ending)]}-{variant}{ending}"
    return f"{name}-{variant}"


def with_free_names(spec: QuantizeSpec) -> QuantizeSpec:
    """The spec with the first numbered variant whose outputs all are new (the spec itself if they are)."""
    from dataclasses import replace

    candidate = spec
    while candidate.existing_outputs():
        candidate = replace(candidate, variant=max(2, candidate.variant + 1))
    return candidate


def refuse_existing(spec: QuantizeSpec) -> None:
    """Refuse a job that would replace files unless the user said so: a re-run never rewrites silently."""
    source = spec.source.resolve()
    if any(path.resolve() == source for path in spec.written()):
        raise QuantizeError(
            f"{spec.source.name} would be replaced by its own quant", hint="choose another output folder"
        )
    existing = [] if spec.overwrite else spec.existing_outputs()
    if existing:
        names = ", ".join(p.name for p in existing)
        raise QuantizeError(
            f"{names} already exist{'s' if len(existing) == 1 else ''} in {spec.out_dir}",
            hint="pass --overwrite to replace, or choose another --out-dir",
        )


class Eta:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, fraction: float) -> float | None:
        if fraction <= 0.0:
            return None
        return (time.monotonic() - self.start) * (1.0 - fraction) / fraction


def run_convert(spec: ConvertSpec, emit: Emit, stage: tuple[int, int] = (1, 1)) -> ev.Output:
    from app.convert.converter import ConvertProgress, convert

    emit(ev.Stage("convert", *stage))
    eta = Eta()

    def progress(p: ConvertProgress) -> None:
        f = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
        emit(ev.Progress("convert", f, p.tensor, eta(f)))

    with claimed([spec.out]):
        result = convert(spec.source, spec.out, spec.outtype, progress=progress, no_mtp=spec.no_mtp)
    return ev.Output("gguf", result.path, result.size, spec.outtype.upper())


def run_imatrix(spec: ImatrixSpec, emit: Emit, stage: tuple[int, int] = (1, 1)) -> ev.Output:
    from app.quantize.imatrix import compute_imatrix, default_calibration

    emit(ev.Stage("imatrix", *stage))
    calibration = spec.calibration or default_calibration()
    try:
        text = calibration.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuantizeError(f"cannot read the calibration text {calibration}: {exc}") from exc
    eta = Eta()

    def progress(done: int, total: int) -> None:
        emit(ev.Progress("imatrix", done / total, f"chunk {done}/{total}", eta(done / total)))

    with claimed([spec.out]):
        result = compute_imatrix(
            spec.model,
            text,
            spec.out,
            n_ctx=spec.n_ctx,
            n_threads=spec.n_threads,
            dataset=calibration.name,
            progress=progress,
            on_log=lambda line: emit(ev.Log(line)),
        )
    emit(ev.Log(f"imatrix: {result.chunk_count} chunks of {result.chunk_size} tokens from {calibration.name}"))
    return ev.Output("imatrix", spec.out, spec.out.stat().st_size)


def run_quantize(spec: QuantizeSpec, emit: Emit) -> list[ev.Output]:
    types = spec.types()
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    # Every name this job writes, claimed before any work: a clash refuses at once, not after a conversion.
    # A quant's claim also covers its quality sidecar.
    with claimed(spec.written()):
        refuse_existing(spec)  # under the claims: no other job can create one of them meanwhile
        try:
            outputs = _run_quantize(spec, types, spec.needs_imatrix(), emit)
        finally:
            for scratch in spec.scratch_outputs():
                scratch.unlink(missing_ok=True)
        if spec.scratch_outputs():
            emit(ev.Log(f"removed the intermediate {spec.intermediate().name}"))
            outputs = [o for o in outputs if o.path not in spec.scratch_outputs()]
        return outputs


def _run_quantize(spec: QuantizeSpec, types: list[QuantType], need_imatrix: bool, emit: Emit) -> list[ev.Output]:
    projector = spec.projector_plan()
    n_stages = len(types) * (2 if spec.quality else 1) + int(spec.source.is_dir()) + int(need_imatrix)
    n_stages += int(projector is not None)
    stage = 0
    outputs: list[ev.Output] = []
    source = spec.source
    if source.is_dir():
        stage += 1
        convert_spec = ConvertSpec(source, spec.intermediate(), spec.intermediate_type, no_mtp=spec.no_mtp)
        converted = run_convert(convert_spec, emit, (stage, n_stages))
        emit(converted)
        outputs.append(converted)
        source = spec.intermediate()
    imatrix_path = spec.imatrix
    if need_imatrix:
        stage += 1
        imx = ImatrixSpec(source, spec.imatrix_out(), spec.calibration, spec.imatrix_ctx, spec.n_threads)
        outputs.append(run_imatrix(imx, emit, (stage, n_stages)))
        imatrix_path = imx.out
    imatrix = None
    if imatrix_path is not None:
        from app.quantize.imatrix_file import load_imatrix

        imatrix = load_imatrix(imatrix_path)
    for q in types:
        stage += 1
        emit(ev.Stage(f"quantize {q.name}", stage, n_stages))
        if spec.output(q) == source:  # the conversion wrote this type already
            out = ev.Output("quant", source, source.stat().st_size, q.name)
        else:
            out = _quantize_one(spec, source, q, imatrix, emit)
        if spec.quality:
            stage += 1
            emit(ev.Stage(f"quality {q.name}", stage, n_stages))
            from app.quantize.quality import compare

            text = _quality_text()
            score = compare(source, out.path, text, n_threads=spec.n_threads)
            out = ev.Output("quant", out.path, out.size_bytes, q.name, score.mean_kld, score.top1_agreement)
            from app.quantize.quality_file import save_quality_of

            try:  # the quant is done and good: a score that cannot be saved is a warning, not a failed job
                save_quality_of(score, source, out.path, q.name, text, "built-in calibration text")
            except (OSError, ValueError, DiskFullError) as exc:
                emit(ev.Warning_(f"could not save the quality score beside {out.path.name}: {exc}"))
        emit(out)
        outputs.append(out)
    if projector is not None:
        stage += 1
        emit(ev.Stage("projector", stage, n_stages))
        kept = _write_projector(spec, projector, emit)
        if kept is not None:
            emit(kept)
            outputs.append(kept)
    return outputs


def _write_projector(spec: QuantizeSpec, plan: ProjectorPlan, emit: Emit) -> ev.Output | None:
    """The vision projector beside the quants (a failure to make it is a warning: the quants are good)."""
    from app.core.errors import AppError, BusyError
    from app.quantize.projector import projector_warning, write_projector

    try:
        with claimed([plan.target]):
            written = write_projector(plan, spec.projector, spec.overwrite)
    except BusyError:
        emit(ev.Log(f"another job is writing {plan.target.name}; it is left to that one"))
        return None
    except DiskFullError:
        raise
    except AppError as exc:
        emit(ev.Warning_(projector_warning(exc, spec.source)))
        return None
    if not written:
        emit(ev.Log(f"kept the projector {plan.target.name} already there"))
    label = "" if plan.copy_of is not None and not plan.retype else spec.projector.upper()  # a copy keeps its type
    return ev.Output("mmproj", plan.target, plan.target.stat().st_size, label)


def _quality_text() -> str:
    from app.quantize.imatrix import default_calibration

    return default_calibration().read_text(encoding="utf-8")


def _quantize_one(spec: QuantizeSpec, source: Path, q: QuantType, imatrix: Imatrix | None, emit: Emit) -> ev.Output:
    from app.quantize.quality_file import sidecar_path

    free = shutil.disk_usage(spec.out_dir).free
    # The dry run ends before the quantization starts: two llama_model_quantize calls at once in one process
    # share llama.cpp's global state (a job crashed once with SIGSEGV while they overlapped).
    if free > _MAX_GROWTH * source.stat().st_size + _FREE_MARGIN:
        _plan_quietly(spec, source, q, emit, free)  # no output can fill that much: the size only informs
    else:
        _plan(spec, source, q, emit, free)
    eta = Eta()
    name = f"quantize {q.name}"

    def progress(p: TensorProgress) -> None:
        f = (p.index - 1) / p.count
        emit(ev.Progress(name, f, p.name, eta(f)))

    dst = spec.output(q)
    quantize_file(
        source,
        dst,
        q,
        spec.options,
        imatrix,
        progress,
        lambda line: emit(ev.Log(line)),
    )
    # Only now, with the new file in place: a score beside an older file of this name would describe the
    # wrong weights, and a job stopped before this point leaves the older file and its score as they were.
    sidecar_path(dst).unlink(missing_ok=True)
    emit(ev.Progress(name, 1.0, "", 0.0))
    return ev.Output("quant", dst, dst.stat().st_size, q.name)


def _plan(spec: QuantizeSpec, source: Path, q: QuantType, emit: Emit, free: int) -> None:
    """llama.cpp's dry run: the planned size (and the disk check). Whether the source was quantized already
    is said when it is picked (app.quantize.plan.requantize_warnings), before a job starts."""
    from app.quantize.predict import dry_run

    plan = dry_run(source, q, spec.options.pure)
    emit(ev.Planned(q.name, plan.size_bytes))
    if plan.size_bytes > free:
        raise DiskFullError(
            f"{q.name} needs about {plan.size_bytes / 2**20:.0f} MiB but {spec.out_dir} has "
            f"{free / 2**20:.0f} MiB free"
        )


def _plan_quietly(spec: QuantizeSpec, source: Path, q: QuantType, emit: Emit, free: int) -> None:
    try:
        _plan(spec, source, q, emit, free)
    except Exception as exc:  # only informative here; the quantization itself reports real failures
        log.warning("dry run of %s failed: %s", q.name, exc)
