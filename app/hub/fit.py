"""Which of a repository's quants fit this machine: verdicts from app.estimate for files known by size,
made exact by one quant's header read remotely (the KV cache and layer layout are the same for all quants;
the quant whose header was read is judged on its own shape). The load settings are the engine's
(app.estimate.engine), so the figures are those of the Chat load panel and `gguf-studio estimate`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from app.chat.protocol import EngineSettings
from app.estimate.engine import engine_load_settings
from app.estimate.hardware import HardwareSpec
from app.estimate.model import ModelShape
from app.estimate.recommend import FileVerdict, QuantFile, recommend
from app.hub.models import Quant, RepoDetail

DEFAULT_CTX = 4096
_REFERENCE_ORDER = ("Q4_K_M", "Q4_K_S", "Q4_0", "IQ4_XS", "Q5_K_M", "Q3_K_M", "Q8_0")


@dataclass(frozen=True, slots=True)
class QuantFit:
    quant: Quant
    verdict: FileVerdict
    recommended: bool


@dataclass(frozen=True, slots=True)
class RepoFit:
    fits: tuple[QuantFit, ...]  # in the order of RepoDetail.quants (smallest first)
    reason: str
    n_ctx: int
    exact: bool  # a header was read: KV cache and per-layer placement counted
    projector_bytes: int = 0  # with images: the vision projector counted beside each quant

    @property
    def recommended(self) -> QuantFit | None:
        return next((f for f in self.fits if f.recommended), None)


def reference_quant(detail: RepoDetail) -> Quant | None:
    """The quant whose header to read: a common mid-size one (its header is like all the others')."""
    by_label = {q.label.upper(): q for q in detail.quants}
    for label in _REFERENCE_ORDER:
        if label in by_label:
            return by_label[label]
    return detail.quants[0] if detail.quants else None


def reference_shape(detail: RepoDetail, token: str | None = None) -> ModelShape | None:
    """Shape of the reference quant, read with range requests (network; raises HubError/GGUFError/EstimateError)."""
    from app.estimate.shape import shape_from_header
    from app.hub.remote import remote_model

    quant = reference_quant(detail)
    if quant is None:
        return None
    return shape_from_header(remote_model(detail.repo_id, quant, detail.sha or "main", token))


def effective_ctx(detail: RepoDetail, n_ctx: int) -> int:
    """0 means the model's trained context length (as llama.cpp's -c 0)."""
    if n_ctx > 0:
        return n_ctx
    return detail.context_length or DEFAULT_CTX


def fit_quants(
    detail: RepoDetail,
    hardware: HardwareSpec,
    n_ctx: int = DEFAULT_CTX,
    reference: ModelShape | None = None,
    settings: EngineSettings | None = None,
    projector_bytes: int = 0,
) -> RepoFit:
    """Pure computation: cheap enough to redo on every change of the context length. `reference` is the
    shape of `reference_quant(detail)`; `settings` how the engine would load (its defaults if None);
    `projector_bytes` the projector loaded beside each quant, with images (app.hub.projector)."""
    ctx = effective_ctx(detail, n_ctx)
    load = engine_load_settings(dataclasses.replace(settings or EngineSettings(), n_ctx=ctx))
    own = reference_quant(detail) if reference is not None else None
    files = [QuantFile(label=q.label, size_bytes=q.size, shape=reference if q is own else None) for q in detail.quants]
    rec = recommend(files, hardware, load, reference, projector_bytes=projector_bytes)
    best = rec.best.file if rec.best is not None else None
    fits = tuple(
        QuantFit(q, v, best is not None and v.file is best) for q, v in zip(detail.quants, rec.verdicts, strict=True)
    )
    return RepoFit(fits, rec.reason, ctx, reference is not None, projector_bytes)
