"""A quality sidecar for a test model, as a finished quality check would leave it."""

from __future__ import annotations

from pathlib import Path

from app.quantize.quality_file import QualityRecord, make_record, save_quality


def save_score(
    model: Path, source: Path, *, kld: float = 0.0082, agree: float = 0.97, quant_type: str = "Q8_0"
) -> QualityRecord:
    """Write a stand-in source file (only named in the record) and the model's sidecar."""
    source.write_bytes(b"s" * 64)
    record = make_record(
        mean_kld=kld,
        top1_agreement=agree,
        n_tokens=128,
        source=source,
        quant=model,
        quant_type=quant_type,
        text="calibration",
        text_name="built-in calibration text",
    )
    save_quality(model, record)
    return record
