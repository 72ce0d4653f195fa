"""The Quantize page offers the vision projector for a source that has one (#19 item 5), and the choice reaches
the job's spec; a source without one leaves the choice off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.ui.pages.quantize import QuantizePage
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf
from tests.support.tiny_vision import write_projector_header


def _model(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiny_gguf(path, TinySpec(name=name))


def _load(qtbot: Any, page: QuantizePage, source: Path) -> None:
    page.plan = None
    page.open_with(model=source)
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.source == source, timeout=20_000)


def test_the_projector_choice_follows_the_source(qtbot: Any, quantize_page: QuantizePage, tmp_path: Path) -> None:
    page = quantize_page
    vision = _model(tmp_path / "eyes" / "Eyes-F32.gguf", "Eyes")
    projector = write_projector_header(vision.parent / "mmproj-Eyes-F16.gguf", 64)
    _load(qtbot, page, vision)
    assert page.projector.isEnabled() and projector.name in page.projector.toolTip()
    page.targets.set_checked({"Q8_0"})
    assert page.projector.currentText() == "F16"
    page.projector.setCurrentText("Q8_0")
    spec = page.build_spec()
    assert spec.projector == "q8_0"
    plan = spec.projector_plan()
    assert plan is not None and plan.copy_of == projector and plan.target.parent == spec.out_dir
    page.projector.setCurrentText("None")
    assert page.build_spec().projector == "" and page.build_spec().projector_plan() is None
    page.grab().save(str(tmp_path / "quantize-vision.png"))

    text_only = _model(tmp_path / "plain" / "Plain-F32.gguf", "Plain")
    _load(qtbot, page, text_only)
    assert not page.projector.isEnabled()
