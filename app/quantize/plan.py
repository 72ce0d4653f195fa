"""The plan for a quantization source: predicted size of every target type and whether each would fit.

Run off the GUI thread (it reads the source's header or checkpoint). The fit verdicts come from the
memory model fed with the engine's load settings (app.estimate.engine), like Discover's and Chat's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from app.chat.protocol import EngineSettings
from app.core.errors import AppError
from app.estimate.engine import engine_load_settings
from app.estimate.hardware import HardwareSpec
from app.estimate.model import ModelShape
from app.estimate.recommend import FileVerdict, QuantFile, judge
from app.quantize.types import QUANT_TYPES

log = logging.getLogger("app.quantize")


@dataclass(frozen=True, slots=True)
class SourcePlan:
    source: Path
    summary: str
    sizes: Mapping[str, int]  # quant type name -> predicted file size in bytes
    verdicts: Mapping[str, FileVerdict] = field(default_factory=lambda: MappingProxyType({}))  # none: no hardware
    n_ctx_train: int | None = None  # the model's training context: the largest imatrix chunk

    @property
    def fits(self) -> dict[str, str]:
        """Each target's verdict in words."""
        return {name: verdict.label for name, verdict in self.verdicts.items()}


def plan_source(source: Path, hardware: HardwareSpec | None, settings: EngineSettings | None = None) -> SourcePlan:
    """Sizes for every target type; verdicts too when the machine is known (`settings`: how the engine
    would load the result, by default the engine's defaults)."""
    from app.core.units import format_bytes
    from app.quantize.imatrix import training_context
    from app.quantize.predict import predict_size, source_tensors

    tensors, overhead = source_tensors(source)
    sizes = {q.name: predict_size(tensors, q, overhead=overhead) for q in QUANT_TYPES}
    verdicts = fit_verdicts(sizes, hardware, _reference(source), settings) if hardware is not None else {}
    n_params = sum(_count(t.shape) for t in tensors)
    kind = "Hugging Face folder" if source.is_dir() else "GGUF file"
    summary = f"{kind}: {len(tensors)} tensors, {n_params / 1e6:,.0f}M parameters"
    if not source.is_dir():
        summary += f", {format_bytes(source.stat().st_size)} on disk"
    return SourcePlan(source, summary, MappingProxyType(sizes), MappingProxyType(verdicts), training_context(source))


def fit_verdicts(
    sizes: Mapping[str, int],
    hardware: HardwareSpec,
    reference: ModelShape | None,
    settings: EngineSettings | None = None,
) -> dict[str, FileVerdict]:
    """The verdict for each quant of a predicted size (by its size alone when there is no reference shape)."""
    load = engine_load_settings(settings or EngineSettings())
    return {name: judge(QuantFile(name, size), load, hardware, reference) for name, size in sizes.items()}


def _reference(source: Path) -> ModelShape | None:
    """The source's own shape (a GGUF source): the KV cache and layer layout of every quant of it."""
    if source.is_dir():
        return None
    from app.estimate.shape import shape_from_header
    from app.gguf import read_model

    try:
        return shape_from_header(read_model(source))
    except (AppError, OSError) as exc:  # an unusual header only costs the KV part of the verdicts
        log.info("no memory shape for %s: %s", source, exc)
        return None


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
