"""What the Library's details pane shows of one model beyond its row: template, tensors and every metadata key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.gguf.facts import model_facts
from app.gguf.split import read_model
from app.gguf.values import ArrayRef, Value, type_name

_MOST_CHARS = 160  # a metadata value longer than this is shortened; the pane is for reading at a glance
_MOST_ITEMS = 8  # a short array shows this many items


@dataclass(frozen=True, slots=True)
class ModelDetails:
    chat_template_chars: int  # 0: the file has no chat template
    n_tensors: int
    n_layer: int
    vocab_size: int
    bits_per_weight: float
    metadata: tuple[tuple[str, str], ...]  # every key, its value as short text, in file order
    projector: Path | None = None  # the vision projector beside it that Chat loads with it
    projector_size: int = 0

    @property
    def has_chat_template(self) -> bool:
        return self.chat_template_chars > 0


def read_details(path: Path) -> ModelDetails:
    """Read the headers of the model at `path` (every part of a split set); raises GGUFError."""
    from app.chat.projector import projectors_beside

    model = read_model(path)
    facts = model_facts(model)
    projectors = projectors_beside(path)
    return ModelDetails(
        chat_template_chars=len(facts.chat_template or ""),
        n_tensors=len(model.tensors),
        n_layer=facts.n_layer,
        vocab_size=facts.vocab_size,
        bits_per_weight=facts.bits_per_weight,
        metadata=tuple((key, value_text(value)) for key, value in model.metadata.items()),
        projector=Path(projectors[0].path) if projectors else None,
        projector_size=projectors[0].size if projectors else 0,
    )


def value_text(value: Value) -> str:
    """A metadata value as one short line: long text shortened, big arrays by element type and count."""
    if isinstance(value, ArrayRef):
        return f"[{value.count:,} × {type_name(value.element_type).lower()}]"
    if isinstance(value, tuple):
        shown = ", ".join(value_text(v) for v in value[:_MOST_ITEMS])
        more = f", … {len(value) - _MOST_ITEMS:,} more" if len(value) > _MOST_ITEMS else ""
        return f"[{shown}{more}]"
    if isinstance(value, str):
        text = value.replace("\n", "⏎ ")
        return text if len(text) <= _MOST_CHARS else f"{text[:_MOST_CHARS]}… ({len(value):,} characters)"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
