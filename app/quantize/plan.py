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
from app.quantize.types import QUANT_TYPES, UNQUANTIZED_FILE_TYPES

log = logging.getLogger("app.quantize")


@dataclass(frozen=True, slots=True)
class SourcePlan:
    source: Path
    summary: str
    sizes: Mapping[str, int]  # quant type name -> predicted file size in bytes
    verdicts: Mapping[str, FileVerdict] = field(default_factory=lambda: MappingProxyType({}))  # none: no hardware
    n_ctx_train: int | None = None  # the model's training context: the largest imatrix chunk
    warnings: tuple[str, ...] = ()  # what the user should know before starting a job from this source
    projector: str = ""  # where a vision model's projector beside the quants comes from ("" none)
    no_mtp: bool = False  # a Hugging Face folder planned without its multi-token-prediction layers

    @property
    def fits(self) -> dict[str, str]:
        """Each target's verdict in words."""
        return {name: verdict.label for name, verdict in self.verdicts.items()}


def plan_source(
    source: Path, hardware: HardwareSpec | None, settings: EngineSettings | None = None, no_mtp: bool = False
) -> SourcePlan:
    """Sizes for every target type; verdicts too when the machine is known (`settings`: how the engine
    would load the result, by default the engine's defaults). `no_mtp`: a Hugging Face folder converted
    without its multi-token-prediction layers (a GGUF source is quantized as it is)."""
    from app.core.units import format_bytes, format_count
    from app.gguf.reader import read_header
    from app.quantize.imatrix import training_context
    from app.quantize.predict import checkpoint_tensors, predict_size, tensors_of

    header = None if source.is_dir() else read_header(source)  # read once: a large vocabulary takes a while
    no_mtp = no_mtp and header is None
    tensors, overhead = checkpoint_tensors(source, no_mtp) if header is None else tensors_of(header)
    sizes = {q.name: predict_size(tensors, q, overhead=overhead) for q in QUANT_TYPES}
    verdicts = fit_verdicts(sizes, hardware, _reference(source), settings) if hardware is not None else {}
    n_params = sum(_count(t.shape) for t in tensors)
    kind = "Hugging Face folder" if source.is_dir() else "GGUF file"
    summary = f"{kind}: {len(tensors)} tensors, {format_count(n_params)} parameters"
    if not source.is_dir():
        summary += f", {format_bytes(source.stat().st_size)} on disk"
    warnings = () if header is None else requantize_warnings(source.name, header.metadata.get("general.file_type"))
    from app.quantize.projector import projector_source

    return SourcePlan(
        source, summary, MappingProxyType(sizes), MappingProxyType(verdicts), training_context(source), warnings,
        projector_source(source), no_mtp,
    )


def requantize_warnings(name: str, file_type: object) -> tuple[str, ...]:
    """A warning when a GGUF source is quantized already: known when it is picked, not after a job started."""
    if not isinstance(file_type, int) or file_type in UNQUANTIZED_FILE_TYPES:
        return ()
    return (
        f"{name} is already quantized: quantizing it again loses more quality than quantizing the "
        "original F16/BF16 model",
    )


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
