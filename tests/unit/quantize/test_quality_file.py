"""The quality sidecar: written beside a quant, read back exactly, and never trusted blindly."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.gguf.naming import is_model_file
from app.quantize.quality import Quality
from app.quantize.quality_file import (
    MAX_SIDECAR_BYTES,
    QualityRecord,
    SidecarError,
    format_agreement,
    format_kld,
    is_sidecar,
    load_quality,
    make_record,
    model_name_of,
    save_quality,
    save_quality_of,
    sidecar_path,
)

TEXT = "The lighthouse keeper counted the ships.\n"


@pytest.fixture
def quant(tmp_path: Path) -> Path:
    (tmp_path / "Model-F16.gguf").write_bytes(b"S" * 300)
    path = tmp_path / "Model-Q8_0.gguf"
    path.write_bytes(b"Q" * 160)
    return path


def _record(quant: Path, **changes: Any) -> QualityRecord:
    values: dict[str, Any] = {
        "mean_kld": 0.0082,
        "top1_agreement": 0.97,
        "n_tokens": 128,
        "source": quant.with_name("Model-F16.gguf"),
        "quant": quant,
        "quant_type": "Q8_0",
        "text": TEXT,
        "text_name": "built-in calibration text",
        "created": datetime(2026, 11, 22, 16, 30, 5, 123456, tzinfo=UTC),
        **changes,
    }
    return make_record(**values)


def _write(quant: Path, data: object) -> Path:
    path = sidecar_path(quant)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_names() -> None:
    assert sidecar_path(Path("/m/X-Q4_K_M.gguf")) == Path("/m/X-Q4_K_M.gguf.quality.json")
    assert is_sidecar("X-Q4_K_M.gguf.quality.json") and is_sidecar("X.GGUF.Quality.JSON")
    assert not is_sidecar("X.gguf") and not is_sidecar("notes.quality.json")
    assert model_name_of("X-Q4_K_M.gguf.quality.json") == "X-Q4_K_M.gguf"
    assert not is_model_file("X-Q4_K_M.gguf.quality.json")  # the library never lists it as a model


def test_record_round_trips_through_the_sidecar(quant: Path) -> None:
    record = _record(quant)
    assert record.source_name == "Model-F16.gguf" and record.source_size == 300
    assert record.quant_size == 160 and record.quant_type == "Q8_0"
    assert record.created == datetime(2026, 11, 22, 16, 30, 5, tzinfo=UTC)
    assert len(record.text_sha256) == 64
    path = save_quality(quant, record)
    assert path == quant.with_name("Model-Q8_0.gguf.quality.json")
    assert not list(quant.parent.glob("*.part"))
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert TEXT.strip() not in path.read_text(encoding="utf-8")  # the text is kept only as its hash
    assert on_disk["mean_kld"] == 0.0082 and on_disk["top1_agreement"] == 0.97
    assert on_disk["source"] == {"name": "Model-F16.gguf", "size": 300}
    assert on_disk["quant"] == {"type": "Q8_0", "size": 160}
    assert on_disk["created"] == "2026-11-22T16:30:05+00:00"
    assert load_quality(quant) == record
    assert load_quality(quant, model_size=160) == record
    assert QualityRecord.from_json(record.to_json()) == record


def test_save_quality_of_a_compare_result(quant: Path) -> None:
    source = quant.with_name("Model-F16.gguf")
    save_quality_of(Quality(0.05, 0.875, 64), source, quant, "Q8_0", TEXT, "calibration.txt")
    loaded = load_quality(quant, 160)
    assert loaded is not None
    assert (loaded.mean_kld, loaded.top1_agreement, loaded.n_tokens) == (0.05, 0.875, 64)
    assert loaded.text_name == "calibration.txt" and loaded.source_name == "Model-F16.gguf"
    assert (datetime.now(UTC) - loaded.created).total_seconds() < 600


def test_rounding_below_zero_is_stored_as_zero(quant: Path) -> None:
    assert _record(quant, mean_kld=-1e-17).mean_kld == 0.0


def test_labels() -> None:
    assert format_kld(0.0082) == "0.0082"
    assert format_kld(0.0) == "0.0000"
    assert format_kld(0.00004) == "4.00e-05"
    assert format_kld(250.0) == "250"
    assert format_agreement(0.97) == "97%"
    assert format_agreement(1.0) == "100%"
    assert format_agreement(0.998) == "99.8%"  # not every token agreed: never shown as 100%
    assert format_agreement(0.0) == "0%"


def test_label_and_description(quant: Path) -> None:
    record = _record(quant)
    assert record.label() == "KLD 0.0082 · top-1 97%"
    text = record.describe()
    assert "Model-F16.gguf" in text and "128 tokens" in text and "2026-11-22 16:30 UTC" in text


def test_missing_sidecar_is_no_score_and_no_noise(quant: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="app.quantize"):
        assert load_quality(quant) is None
    assert caplog.records == []


def test_a_score_for_another_file_size_is_stale(quant: Path, caplog: pytest.LogCaptureFixture) -> None:
    save_quality(quant, _record(quant))
    with caplog.at_level(logging.INFO, logger="app.quantize"):
        assert load_quality(quant, model_size=161) is None
    assert "made for a file of 160 bytes" in caplog.text


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'"just a string"',
        b"null",
        b"[" * 5000 + b"]" * 5000,  # nesting deep enough to exhaust the parser's recursion
    ],
    ids=["empty", "truncated", "binary", "list", "string", "null", "deep"],
)
def test_corrupt_sidecar_is_ignored_with_a_log_line(quant: Path, raw: bytes, caplog: pytest.LogCaptureFixture) -> None:
    sidecar_path(quant).write_bytes(raw)
    with caplog.at_level(logging.WARNING, logger="app.quantize"):
        assert load_quality(quant) is None
    assert "ignoring the quality score" in caplog.text


def test_oversized_sidecar_is_not_read_whole(quant: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _record(quant).to_json()
    data["padding"] = "x" * (MAX_SIDECAR_BYTES * 64)
    _write(quant, data)
    with caplog.at_level(logging.WARNING, logger="app.quantize"):
        assert load_quality(quant) is None
    assert "larger than" in caplog.text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_a_pipe_in_its_place_is_never_opened(quant: Path, caplog: pytest.LogCaptureFixture) -> None:
    os.mkfifo(sidecar_path(quant))  # opening it to read would wait for a writer forever
    with caplog.at_level(logging.WARNING, logger="app.quantize"):
        assert load_quality(quant) is None
    assert "not a regular file" in caplog.text


def test_a_folder_in_its_place_is_ignored(quant: Path, caplog: pytest.LogCaptureFixture) -> None:
    sidecar_path(quant).mkdir()
    with caplog.at_level(logging.WARNING, logger="app.quantize"):
        assert load_quality(quant) is None
    assert "ignoring the quality score" in caplog.text


HOSTILE = [
    ("mean_kld", float("nan")),
    ("mean_kld", float("inf")),
    ("mean_kld", -0.5),
    ("mean_kld", 1e300),
    ("mean_kld", 10**400),
    ("mean_kld", "0.01"),
    ("mean_kld", True),
    ("mean_kld", None),
    ("top1_agreement", 1.5),
    ("top1_agreement", -0.1),
    ("n_tokens", 0),
    ("n_tokens", 10**40),
    ("n_tokens", 12.5),
    ("n_tokens", False),
    ("source", {"name": "x.gguf", "size": -1}),
    ("source", {"name": "x.gguf", "size": 2**64}),
    ("source", {"name": "", "size": 1}),
    ("source", {"name": "a" * 10_000, "size": 1}),
    ("source", {"name": "evil\u202egguf.exe", "size": 1}),
    ("source", {"name": "line\nbreak", "size": 1}),
    ("source", "Model-F16.gguf"),
    ("text", {"name": "t", "sha256": "not-hex"}),
    ("text", {"name": "t", "sha256": "A" * 64}),
    ("quant", {"type": "Q8_0"}),
    ("quant", None),
    ("created", "yesterday"),
    ("created", "2026-11-22T16:30:05"),  # no time zone
    ("created", "9999-12-31T23:59:59-05:00"),  # beyond datetime's range once in UTC
    ("created", 1_700_000_000),
    ("format", "something-else"),
    ("version", 2),
]


@pytest.mark.parametrize(("key", "value"), HOSTILE, ids=[f"{k}={str(v)[:24]!r}" for k, v in HOSTILE])
def test_hostile_values_are_refused(quant: Path, key: str, value: object, caplog: pytest.LogCaptureFixture) -> None:
    data = _record(quant).to_json()
    data[key] = value
    path = sidecar_path(quant)
    # allow_nan: Python's json writes NaN/Infinity literals, and reads them back, so the reader must refuse them
    path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="app.quantize"):
        assert load_quality(quant) is None
    assert "ignoring the quality score" in caplog.text
    with pytest.raises(SidecarError):
        QualityRecord.from_json(json.loads(path.read_text(encoding="utf-8")))


def test_names_with_markup_are_kept_as_text(quant: Path) -> None:
    """Allowed (a file may be called that); the GUI escapes it, this only checks it survives unchanged."""
    data = _record(quant).to_json()
    data["source"] = {"name": "<b>bold</b> & co.gguf", "size": 1}
    _write(quant, data)
    loaded = load_quality(quant)
    assert loaded is not None and loaded.source_name == "<b>bold</b> & co.gguf"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_json, base=st.booleans())
def test_any_json_is_a_record_or_a_sidecar_error(data: object, base: bool) -> None:
    if base and isinstance(data, dict):
        valid = {
            "format": "gguf-studio.quality",
            "version": 1,
            "mean_kld": 0.01,
            "top1_agreement": 0.9,
            "n_tokens": 10,
            "source": {"name": "a.gguf", "size": 1},
            "text": {"name": "t", "sha256": "0" * 64},
            "quant": {"type": "Q4_K_M", "size": 2},
            "created": "2026-01-01T00:00:00+00:00",
        }
        data = {**valid, **data}
    try:
        record = QualityRecord.from_json(data)
    except SidecarError:
        return
    assert QualityRecord.from_json(record.to_json()) == record
