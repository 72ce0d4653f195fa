"""What the library lists: one entry per model (a split set is one entry), with its header summary or error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.quantize.quality_file import QualityRecord


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """The few header facts the library shows; small enough to cache as JSON."""

    name: str
    architecture: str | None
    parameters: int | None
    quant: str | None
    context_length: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "architecture": self.architecture,
            "parameters": self.parameters,
            "quant": self.quant,
            "context_length": self.context_length,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> ModelSummary:
        return ModelSummary(
            name=str(data["name"]),
            architecture=data.get("architecture"),
            parameters=data.get("parameters"),
            quant=data.get("quant"),
            context_length=data.get("context_length"),
        )


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    path: Path  # the file to open: the model, or the first part of a split set
    files: tuple[Path, ...]  # every file of the model
    size: int  # bytes of all files
    root: Path  # the library folder it was found under
    summary: ModelSummary | None
    error: str | None = None  # why the header could not be read; the row shows it
    quality: QualityRecord | None = None  # the quality check's score, from the sidecar beside the file

    @property
    def name(self) -> str:
        return self.summary.name if self.summary else self.path.name

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def usable(self) -> bool:
        return self.summary is not None and self.error is None
