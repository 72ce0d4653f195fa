"""Which kind of model a GGUF is for the server: an embedding model or a chat model, from its header.

An embedding model is an encoder-only architecture (BERT family, app.estimate.classes) or any model whose
header declares a pooling type. Below the endpoints and the scheduler, which all ask it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from app.core.errors import AppError
from app.estimate.classes import ArchClass, arch_class
from app.gguf.reader import read_header

_NOT_EMBEDDINGS = {"wavtokenizer-dec"}  # encoder-only, but an audio codec


@lru_cache(maxsize=256)
def _pooled(path: str, size: int) -> bool:
    meta = read_header(path).metadata
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        return False
    pooling = meta.get(f"{arch}.pooling_type")
    if isinstance(pooling, int) and not isinstance(pooling, bool):
        return pooling > 0
    return arch_class(arch) is ArchClass.ENCODER_ONLY and arch not in _NOT_EMBEDDINGS


def is_embedding_model(path: Path) -> bool:
    """Whether the GGUF at `path` is an embedding model (a header read, cached per file size)."""
    try:
        return _pooled(str(path), path.stat().st_size)
    except (OSError, AppError):
        return False
