"""Read a model's headers into the `ModelSummary` the library shows."""

from __future__ import annotations

from pathlib import Path

from app.gguf.facts import model_facts
from app.gguf.naming import parse_split, quant_label
from app.gguf.split import read_model
from app.library.entries import ModelSummary


def summarize_file(path: Path) -> ModelSummary:
    """Headers of the model at `path` (every part of a split set); raises GGUFError when unreadable."""
    facts = model_facts(read_model(path))
    name = (facts.name or "").strip()
    return ModelSummary(
        name=name or _stem(path),
        architecture=facts.architecture,
        parameters=facts.n_params or None,
        quant=facts.file_type or quant_label(path.name),
        context_length=facts.context_length or None,
    )


def _stem(path: Path) -> str:
    split = parse_split(path.name)
    return split.stem if split else path.name[: -len(".gguf")]
