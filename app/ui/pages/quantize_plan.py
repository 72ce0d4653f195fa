"""Work the Quantize page runs off the GUI thread: read a source, predict each target's size and fit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.quantize.types import QUANT_TYPES


@dataclass(frozen=True, slots=True)
class SourcePlan:
    source: Path
    summary: str
    sizes: dict[str, int]
    fits: dict[str, str]
    n_ctx_train: int | None = None  # the model's training context: the largest imatrix chunk


def plan_source(_control: Any, source: Path, hardware: Any) -> SourcePlan:
    from app.core.units import format_bytes
    from app.quantize.imatrix import training_context
    from app.quantize.predict import predict_size, source_tensors

    tensors, overhead = source_tensors(source)
    sizes = {q.name: predict_size(tensors, q, overhead=overhead) for q in QUANT_TYPES}
    fits = _fits(source, sizes, hardware) if hardware is not None else {}
    n_params = sum(_count(t.shape) for t in tensors)
    kind = "Hugging Face folder" if source.is_dir() else "GGUF file"
    summary = f"{kind}: {len(tensors)} tensors, {n_params / 1e6:,.0f}M parameters"
    if not source.is_dir():
        summary += f", {format_bytes(source.stat().st_size)} on disk"
    return SourcePlan(source, summary, sizes, fits, training_context(source))


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _fits(source: Path, sizes: dict[str, int], hardware: Any) -> dict[str, str]:
    from app.estimate import spec_from_info
    from app.estimate.recommend import QuantFile, judge
    from app.estimate.settings import LoadSettings

    spec = spec_from_info(hardware)
    reference = None
    if not source.is_dir():
        try:
            from app.estimate.shape import shape_from_header
            from app.gguf import read_model

            reference = shape_from_header(read_model(source))
        except Exception:  # an unusual header only costs us the KV part of the verdict
            reference = None
    settings = LoadSettings()
    return {name: judge(QuantFile(name, size), settings, spec, reference).label for name, size in sizes.items()}
