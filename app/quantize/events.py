"""Messages a convert / imatrix / quantize job sends from its process to the app (all picklable)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.process.job import JobFailed


@dataclass(frozen=True, slots=True)
class Stage:
    name: str  # "convert", "imatrix", "quantize Q4_K_M", "quality Q4_K_M"
    index: int  # 1-based
    count: int


@dataclass(frozen=True, slots=True)
class Progress:
    stage: str
    fraction: float  # of this stage, 0..1
    detail: str  # tensor name, chunk number
    eta_s: float | None  # for this stage


@dataclass(frozen=True, slots=True)
class Log:
    line: str


@dataclass(frozen=True, slots=True)
class Warning_:
    message: str


@dataclass(frozen=True, slots=True)
class Planned:
    type_name: str
    size_bytes: int  # llama.cpp's dry-run figure


@dataclass(frozen=True, slots=True)
class Output:
    kind: str  # "gguf", "imatrix", "quant", "mmproj"
    path: Path
    size_bytes: int
    type_name: str = ""
    mean_kld: float | None = None
    top1_agreement: float | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    outputs: tuple[Output, ...]


Failed = JobFailed  # the job's end when it did not finish (the publish job ends the same way)

Event = Stage | Progress | Log | Warning_ | Planned | Output | Finished | Failed
