"""The jobs that run in a worker process: convert, imatrix, and quantize (which may do the other two first).

Each takes a frozen spec and an `emit` function for events. Each claims its outputs' names first (a second
job aimed at one refuses, see app.core.claim); files are written under unique `*.part` names and renamed, so
a job killed at any moment leaves only its own *.part files, which the parent removes (see runner.py).
"""

from __future__ import annotations

import logging
import shutil
import threading
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

log = logging.getLogger("app.quantize")

Emit = Callable[[ev.Event], None]
_UNQUANTIZED_FILE_TYPES = (0, 1, 32)  # ALL_F32, MOSTLY_F16, MOSTLY_BF16
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


@dataclass(frozen=True, slots=True)
class ImatrixSpec:
    model: Path  # GGUF
    out: Path
    calibration: Path | None = None
    n_ctx: int = 512
    n_threads: int = 2

    def planned_outputs(self) -> list[Path]:
        return [self.out]


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

    def types(self) -> list[QuantType]:
        return parse_types(",".join(self.targets))

    def stem(self) -> str:
        return self.source.name if self.source.is_dir() else self.source.stem

    def intermediate(self) -> Path:
        return self.out_dir / f"{self.source.name}-{self.intermediate_type.upper()}.gguf"

    def imatrix_out(self) -> Path:
        return self.out_dir / f"{self.stem()}.imatrix.gguf"

    def output(self, q: QuantType) -> Path:
        return self.out_dir / output_name(self.stem(), q)

    def planned_outputs(self) -> list[Path]:
        from app.quantize.quality_file import sidecar_path

        quants = [self.output(q) for q in self.types()]
        sidecars = [sidecar_path(path) for path in quants] if self.quality else []
        return [self.intermediate(), self.imatrix_out(), *quants, *sidecars]


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
    need_imatrix = spec.imatrix is None and (spec.calibration is not None or any(q.needs_imatrix for q in types))
    # Every name this job writes, claimed before any work: a clash refuses at once, not after a conversion.
    # A quant's claim also covers its quality sidecar.
    written = [spec.output(q) for q in types]
    if need_imatrix:
        written.insert(0, spec.imatrix_out())
    if spec.source.is_dir():
        written.insert(0, spec.intermediate())
    with claimed(written):
        return _run_quantize(spec, types, need_imatrix, emit)


def _run_quantize(spec: QuantizeSpec, types: list[QuantType], need_imatrix: bool, emit: Emit) -> list[ev.Output]:
    n_stages = len(types) * (2 if spec.quality else 1) + int(spec.source.is_dir()) + int(need_imatrix)
    stage = 0
    outputs: list[ev.Output] = []
    source = spec.source
    if source.is_dir():
        stage += 1
        outputs.append(
            run_convert(ConvertSpec(source, spec.intermediate(), spec.intermediate_type), emit, (stage, n_stages))
        )
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
        out = _quantize_one(spec, source, q, imatrix, emit, check_source=q is types[0] and source == spec.source)
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
    return outputs


def _quality_text() -> str:
    from app.quantize.imatrix import default_calibration

    return default_calibration().read_text(encoding="utf-8")


def _quantize_one(
    spec: QuantizeSpec, source: Path, q: QuantType, imatrix: Imatrix | None, emit: Emit, check_source: bool
) -> ev.Output:
    from app.quantize.quality_file import sidecar_path

    free = shutil.disk_usage(spec.out_dir).free
    planner: threading.Thread | None = None
    if free > _MAX_GROWTH * source.stat().st_size + _FREE_MARGIN:
        # No output can fill that much: the dry run only informs, and runs beside the quantization (whose
        # own loading of the model takes as long, on one core) instead of before it.
        planner = threading.Thread(target=_plan_quietly, args=(spec, source, q, emit, check_source, free),
                                   name="dry-run", daemon=True)
        planner.start()
    else:
        _plan(spec, source, q, emit, check_source, free)
    eta = Eta()
    name = f"quantize {q.name}"

    def progress(p: TensorProgress) -> None:
        f = (p.index - 1) / p.count
        emit(ev.Progress(name, f, p.name, eta(f)))

    dst = spec.output(q)
    # A score beside an older file of this name would describe the wrong weights.
    sidecar_path(dst).unlink(missing_ok=True)
    quantize_file(
        source,
        dst,
        q,
        spec.options,
        imatrix,
        progress,
        lambda line: emit(ev.Log(line)),
    )
    if planner is not None:
        planner.join()
    emit(ev.Progress(name, 1.0, "", 0.0))
    return ev.Output("quant", dst, dst.stat().st_size, q.name)


def _plan(spec: QuantizeSpec, source: Path, q: QuantType, emit: Emit, check_source: bool, free: int) -> None:
    """llama.cpp's dry run: the planned size (and the disk check), and whether the source was quantized."""
    from app.quantize.predict import dry_run

    plan = dry_run(source, q, spec.options.pure)
    if check_source and plan.file_type not in _UNQUANTIZED_FILE_TYPES:
        emit(
            ev.Warning_(
                f"{source.name} is already quantized: quantizing it again loses more quality than "
                "quantizing the original F16/BF16 model"
            )
        )
    emit(ev.Planned(q.name, plan.size_bytes))
    if plan.size_bytes > free:
        raise DiskFullError(
            f"{q.name} needs about {plan.size_bytes / 2**20:.0f} MiB but {spec.out_dir} has "
            f"{free / 2**20:.0f} MiB free"
        )


def _plan_quietly(spec: QuantizeSpec, source: Path, q: QuantType, emit: Emit, check_source: bool, free: int) -> None:
    try:
        _plan(spec, source, q, emit, check_source, free)
    except Exception as exc:  # only informative here; the quantization itself reports real failures
        log.warning("dry run of %s failed: %s", q.name, exc)
