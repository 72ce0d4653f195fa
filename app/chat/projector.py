"""Which multimodal projector (mmproj GGUF) goes with a model: read from headers, no llama.cpp.

A library folder keeps a repository's files together (`<models>/<publisher>/<repo>/`), so a model's projector
is an mmproj file beside it whose embeddings are as wide as the model's. Among several, F16 is preferred
(what llama.cpp's converter writes and what the Hub's repos offer first), then BF16, Q8_0, F32, then the
smallest file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import AppError, EngineError
from app.gguf.naming import is_mmproj
from app.gguf.reader import read_header

log = logging.getLogger("app.chat.projector")

_PREFERRED_FILE_TYPES = (1, 32, 7, 0)  # general.file_type: F16, BF16, Q8_0, F32


@dataclass(frozen=True, slots=True)
class ProjectorInfo:
    """What a projector file says about itself (read from its header, before llama.cpp opens it)."""

    path: str
    projector_type: str
    embedding_size: int  # the width of the embeddings it makes: must equal the text model's
    vision: bool
    audio: bool
    file_type: int | None = None
    size: int = 0


def projector_info(path: str | Path) -> ProjectorInfo:
    header = read_header(path)
    meta = header.metadata
    if meta.get("general.type") != "mmproj" and header.architecture != "clip":
        raise EngineError(f"{Path(path).name} is not a multimodal projector (mmproj) file",
                          hint="choose the mmproj GGUF that came with the model")
    vision = bool(meta.get("clip.has_vision_encoder", False))
    audio = bool(meta.get("clip.has_audio_encoder", False))
    width = meta.get("clip.vision.projection_dim") if vision else meta.get("clip.audio.projection_dim")
    kind = meta.get("clip.projector_type") or meta.get("clip.vision.projector_type") or ""
    file_type = meta.get("general.file_type")
    return ProjectorInfo(str(path), str(kind), width if isinstance(width, int) else 0, vision, audio,
                         file_type if isinstance(file_type, int) else None, header.file_size)


def model_embedding_size(path: str | Path) -> int:
    """The width of the model's token embeddings (`<arch>.embedding_length`), 0 when the header has none."""
    header = read_header(path)
    value = header.metadata.get(f"{header.architecture}.embedding_length")
    return value if isinstance(value, int) else 0


def projectors_beside(model: str | Path) -> list[ProjectorInfo]:
    """The readable projector files in the model's folder whose embeddings fit the model, best first."""
    folder = Path(model).parent
    try:
        names = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".gguf" and is_mmproj(p.name))
    except OSError:
        return []
    if not names:
        return []
    try:
        width = model_embedding_size(model)
    except AppError:
        return []
    found = []
    for path in names:
        try:
            info = projector_info(path)
        except AppError as exc:
            log.info("not a usable projector: %s (%s)", path, exc)
            continue
        if width and info.embedding_size and info.embedding_size != width:
            continue
        found.append(info)

    def rank(info: ProjectorInfo) -> tuple[int, int]:
        kind = info.file_type
        order = _PREFERRED_FILE_TYPES.index(kind) if kind in _PREFERRED_FILE_TYPES else len(_PREFERRED_FILE_TYPES)
        return order, info.size

    return sorted(found, key=rank)


def projector_for(model: str | Path) -> str:
    """The projector to load with `model` (its path), or "" when none beside it fits."""
    found = projectors_beside(model)
    return found[0].path if found else ""


__all__ = ["ProjectorInfo", "model_embedding_size", "projector_for", "projector_info", "projectors_beside"]
