"""Which repo files a download means: one file, a whole split set, or the model of a given quantization."""

from __future__ import annotations

from app.core.errors import DownloadError, NotFoundError
from app.gguf.naming import parse_split
from app.hub.models import RepoDetail


def expand_split(filename: str) -> list[str]:
    """Any part of a split set → every part, in order; a plain file → itself."""
    split = parse_split(filename)
    if split is None or split.count == 1:
        return [filename]
    folder = filename.rsplit("/", 1)[0] + "/" if "/" in filename else ""
    return [folder + split.part_name(n) for n in range(1, split.count + 1)]


def choose_quant(detail: RepoDetail, quant: str | None) -> list[str]:
    """The files of the model with quantization `quant`; without one, the repo's only model."""
    if quant is not None:
        try:
            return list(detail.quant(quant).paths)
        except KeyError:
            raise NotFoundError(f"{detail.repo_id} has no {quant.upper()} model", hint=_choices(detail)) from None
    if len(detail.quants) == 1:
        return list(detail.quants[0].paths)
    if not detail.quants:
        raise NotFoundError(f"{detail.repo_id} has no GGUF model files")
    raise DownloadError(f"{detail.repo_id} has {len(detail.quants)} models; pick one", hint=_choices(detail))


def _choices(detail: RepoDetail) -> str:
    labels = ", ".join(q.label for q in detail.quants)
    return f"use --quant with one of: {labels}" if labels else "the repo has no GGUF model files"
