"""The quality score kept beside a quant: `<model>.gguf.quality.json`, so it travels with the file.

Written once by the quantize job; read by the library on every cold scan. Reading trusts nothing: a missing
sidecar is simply no score, and a corrupt, oversized, out-of-range or stale one is ignored with a log line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import stat
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.atomic import write_atomic
from app.core.errors import SidecarError

if TYPE_CHECKING:
    from app.quantize.quality import Quality

log = logging.getLogger("app.quantize")

SIDECAR_SUFFIX = ".quality.json"
FORMAT = "gguf-studio.quality"
VERSION = 1
MAX_SIDECAR_BYTES = 16 * 1024  # a real one is ~400 bytes
_MAX_TEXT = 200  # characters of a name or label
_MAX_KLD = 1e6  # far above any real quant's mean KLD (a broken one scores a few units)
_MAX_TOKENS = 10**9
_MAX_SIZE = 2**63 - 1

KLD_EXPLAINED = (
    "Mean KL divergence of the quant's next-token distribution from its source model's, over a short text: "
    "0 means identical; below about 0.01 is usually hard to tell apart, above 0.1 noticeably worse. "
    "Top-1 is how often both pick the same most likely next token."
)


@dataclass(frozen=True, slots=True)
class QualityRecord:
    mean_kld: float
    top1_agreement: float  # 0..1
    n_tokens: int  # tokens scored
    source_name: str  # the file the quant was made from
    source_size: int
    text_name: str  # what was scored: a file name or a label, never the text itself
    text_sha256: str
    quant_type: str
    quant_size: int  # bytes of the quant scored: a file of another size is another quant, and the score is stale
    created: datetime  # UTC

    def matches(self, model_size: int) -> bool:
        return self.quant_size == model_size

    def label(self) -> str:
        """`KLD 0.0082 · top-1 97%`"""
        return f"KLD {format_kld(self.mean_kld)} · top-1 {format_agreement(self.top1_agreement)}"

    def describe(self) -> str:
        """A few lines for a tooltip or details panel."""
        return (
            f"Mean KL divergence {format_kld(self.mean_kld)}, top-1 agreement "
            f"{format_agreement(self.top1_agreement)}\n"
            f"{self.quant_type} scored against {self.source_name} on {self.n_tokens} tokens of "
            f"{self.text_name}, {self.created:%Y-%m-%d %H:%M} UTC"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "mean_kld": self.mean_kld,
            "top1_agreement": self.top1_agreement,
            "n_tokens": self.n_tokens,
            "source": {"name": self.source_name, "size": self.source_size},
            "text": {"name": self.text_name, "sha256": self.text_sha256},
            "quant": {"type": self.quant_type, "size": self.quant_size},
            "created": self.created.isoformat(timespec="seconds"),
        }

    @staticmethod
    def from_json(data: object) -> QualityRecord:
        """Validate every field; raises SidecarError."""
        obj = _mapping(data, "the record")
        if obj.get("format") != FORMAT:
            raise SidecarError("not a quality record")
        if obj.get("version") != VERSION:
            raise SidecarError(f"unsupported version {obj.get('version')!r}")
        source = _mapping(obj.get("source"), "source")
        text = _mapping(obj.get("text"), "text")
        quant = _mapping(obj.get("quant"), "quant")
        sha = _text(text.get("sha256"), "text.sha256")
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise SidecarError("text.sha256 is not a SHA-256 hex digest")
        return QualityRecord(
            mean_kld=_number(obj.get("mean_kld"), "mean_kld", 0.0, _MAX_KLD),
            top1_agreement=_number(obj.get("top1_agreement"), "top1_agreement", 0.0, 1.0),
            n_tokens=_integer(obj.get("n_tokens"), "n_tokens", 1, _MAX_TOKENS),
            source_name=_text(source.get("name"), "source.name"),
            source_size=_integer(source.get("size"), "source.size", 0, _MAX_SIZE),
            text_name=_text(text.get("name"), "text.name"),
            text_sha256=sha,
            quant_type=_text(quant.get("type"), "quant.type"),
            quant_size=_integer(quant.get("size"), "quant.size", 0, _MAX_SIZE),
            created=_date(obj.get("created")),
        )


def sidecar_path(model: Path) -> Path:
    """`X.gguf` → `X.gguf.quality.json`, in the same folder."""
    return model.with_name(model.name + SIDECAR_SUFFIX)


def is_sidecar(file_name: str) -> bool:
    return file_name.lower().endswith(".gguf" + SIDECAR_SUFFIX)


def model_name_of(sidecar_name: str) -> str:
    """The model file a sidecar belongs to: `X.gguf.quality.json` → `X.gguf`."""
    return sidecar_name[: -len(SIDECAR_SUFFIX)]


def make_record(
    *,
    mean_kld: float,
    top1_agreement: float,
    n_tokens: int,
    source: Path,
    quant: Path,
    quant_type: str,
    text: str,
    text_name: str,
    created: datetime | None = None,
) -> QualityRecord:
    """A record for a quant just scored (stats both files; the text is kept only as its hash)."""
    record = QualityRecord(
        mean_kld=max(0.0, float(mean_kld)),  # rounding can leave -1e-17 where the two are identical
        top1_agreement=float(top1_agreement),
        n_tokens=int(n_tokens),
        source_name=source.name,
        source_size=source.stat().st_size,
        text_name=text_name,
        text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        quant_type=quant_type,
        quant_size=quant.stat().st_size,
        created=(created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0),
    )
    return QualityRecord.from_json(record.to_json())  # what is written must read back


def save_quality(model: Path, record: QualityRecord) -> Path:
    path = sidecar_path(model)
    write_atomic(path, (json.dumps(record.to_json(), indent=2) + "\n").encode("utf-8"))
    return path


def save_quality_of(score: Quality, source: Path, quant: Path, quant_type: str, text: str, text_name: str) -> Path:
    """Keep a score `compare()` just made beside the quant it scored."""
    record = make_record(
        mean_kld=score.mean_kld,
        top1_agreement=score.top1_agreement,
        n_tokens=score.n_tokens,
        source=source,
        quant=quant,
        quant_type=quant_type,
        text=text,
        text_name=text_name,
    )
    return save_quality(quant, record)


def load_quality(model: Path, model_size: int | None = None) -> QualityRecord | None:
    """The score beside `model`; None when there is none or it cannot be trusted (logged).

    With `model_size`, a record made for a file of another size (the quant was replaced) is stale: None.
    """
    path = sidecar_path(model)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a pipe or device would block or never end
            raise SidecarError("not a regular file")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SIDECAR_BYTES + 1)
    except FileNotFoundError:
        return None
    except (OSError, SidecarError) as exc:
        log.warning("ignoring the quality score %s: %s", path, exc)
        return None
    try:
        if len(raw) > MAX_SIDECAR_BYTES:
            raise SidecarError(f"larger than {MAX_SIDECAR_BYTES} bytes")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, RecursionError, ValueError) as exc:
            raise SidecarError(f"not JSON ({exc})") from exc
        record = QualityRecord.from_json(data)
    except SidecarError as exc:
        log.warning("ignoring the quality score %s: %s", path, exc)
        return None
    if model_size is not None and not record.matches(model_size):
        log.info("ignoring the quality score %s: it was made for a file of %d bytes", path, record.quant_size)
        return None
    return record


def format_kld(value: float) -> str:
    if value == 0.0 or 0.001 <= value < 100:
        return f"{value:.4f}"
    return f"{value:.2e}" if value < 0.001 else f"{value:.0f}"


def format_agreement(value: float) -> str:
    percent = 100.0 * value
    if value < 1.0 and round(percent) == 100:
        return f"{math.floor(percent * 10) / 10:.1f}%"  # never "100%" unless every token agreed
    return f"{percent:.0f}%"


def _mapping(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SidecarError(f"{what} is not an object")
    return value


def _number(value: object, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SidecarError(f"{what} is not a number")
    try:
        number = float(value)
    except OverflowError as exc:  # an integer beyond any float
        raise SidecarError(f"{what} is out of range") from exc
    if not (math.isfinite(number) and low <= number <= high):
        raise SidecarError(f"{what} {value!r} is out of range")
    return number


def _integer(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SidecarError(f"{what} is not a whole number in range")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT:
        raise SidecarError(f"{what} is not a short text")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
        raise SidecarError(f"{what} holds control characters")
    return value


def _date(value: object) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise SidecarError("created is not a date")
    try:
        date = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SidecarError(f"created is not a date ({exc})") from exc
    if date.tzinfo is None:
        raise SidecarError("created has no time zone")
    try:
        return date.astimezone(UTC)
    except OverflowError as exc:
        raise SidecarError("created is out of range") from exc
