"""`gguf-studio list` shows the quality score kept beside a quant, as JSON and in the table."""

from __future__ import annotations

import json
from pathlib import Path

from app.core.settings import Settings
from app.quantize.quality_file import make_record, save_quality
from tests.support.cli import run_cli
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


def test_list_includes_the_quality_score(tmp_path: Path) -> None:
    models = tmp_path / "models"
    Settings().update(models_dir=str(models))
    folder = models / "me" / "Tiny-GGUF"
    folder.mkdir(parents=True)
    scored = write_tiny_gguf(folder / "Tiny-Q8_0.gguf", TinySpec(name="Scored", tensor_type="Q8_0"))
    write_tiny_gguf(folder / "Tiny-F32.gguf", TinySpec(name="Plain"))
    record = make_record(
        mean_kld=0.0123,
        top1_agreement=0.9375,
        n_tokens=64,
        source=folder / "Tiny-F32.gguf",
        quant=scored,
        quant_type="Q8_0",
        text="some calibration text",
        text_name="built-in calibration text",
    )
    save_quality(scored, record)

    listed = run_cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = {e["name"]: e for e in json.loads(listed.stdout)}
    assert set(entries) == {"Scored", "Plain"}  # the sidecar is not a model
    quality = entries["Scored"]["quality"]
    assert quality["mean_kld"] == 0.0123 and quality["top1_agreement"] == 0.9375
    assert quality["n_tokens"] == 64 and quality["quant"] == {"type": "Q8_0", "size": scored.stat().st_size}
    assert quality["source"]["name"] == "Tiny-F32.gguf"
    assert quality["text"]["name"] == "built-in calibration text" and len(quality["text"]["sha256"]) == 64
    assert entries["Plain"]["quality"] is None

    table = run_cli("list")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert "KLD/TOP-1" in header
    scored_row = next(r for r in rows if r.startswith("Scored"))
    assert "0.0123/94%" in scored_row
    plain_row = next(r for r in rows if r.startswith("Plain"))
    assert "0.0123" not in plain_row
