"""The vision projector to download with a quant of a repository that has one (Discover offers it beside every
Download): the smallest F16, BF16 or Q8_0 file, which llama.cpp's mtmd runs as precisely as the full weights;
a more compressed projector costs image understanding for little memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.hub.models import Quant, RepoDetail

if TYPE_CHECKING:
    from app.estimate.projector import ProjectorMemory

_PRECISE = ("F16", "BF16", "Q8_0")


def default_projector(projectors: Sequence[Quant]) -> Quant | None:
    """The smallest precise projector, else the smallest one; None when the repository has none."""
    if not projectors:
        return None
    precise = [q for q in projectors if q.label.upper() in _PRECISE]
    return min(precise or projectors, key=lambda q: q.size)


def remote_projector_memory(detail: RepoDetail, *, flash_attn: bool = True,
                            token: str | None = None) -> ProjectorMemory | None:
    """The memory of the projector Discover downloads (weights and one image's compute buffer), from its
    header read with range requests; None when the repository has none (network: raises HubError/GGUFError/
    EstimateError)."""
    from app.estimate.projector import projector_memory
    from app.hub.remote import remote_header

    projector = default_projector(detail.mmproj)
    if projector is None:
        return None
    header = remote_header(detail.repo_id, projector.first.path, detail.sha or "main", token)
    return projector_memory(header, flash_attn=flash_attn)


__all__ = ["default_projector", "remote_projector_memory"]
