"""The Chat load panel names what a model's projector takes: "With audio" for an audio-only projector beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.ui.pages.chat import ChatPage
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf
from tests.support.tiny_vision import write_projector_header


def _pick(qtbot: Any, page: ChatPage, path: Path) -> None:
    panel = page.load_panel
    panel.add_model_path(str(path))
    qtbot.waitUntil(lambda: panel.model is not None and panel.model.path == str(path), timeout=20_000)


def test_the_switch_says_audio_for_an_audio_projector(chat_page: ChatPage, qtbot: Any, tmp_path: Path) -> None:
    ears = tmp_path / "ears" / "Ears-F32.gguf"
    ears.parent.mkdir()
    write_tiny_gguf(ears, TinySpec(name="Ears"))
    write_projector_header(ears.parent / "mmproj-Ears-F16.gguf", 64, audio=True)
    eyes = tmp_path / "eyes" / "Eyes-F32.gguf"
    eyes.parent.mkdir()
    write_tiny_gguf(eyes, TinySpec(name="Eyes"))
    write_projector_header(eyes.parent / "mmproj-Eyes-F16.gguf", 64)
    panel = chat_page.load_panel
    _pick(qtbot, chat_page, ears)
    assert panel.images.text() == "With audio" and "attach audio" in panel.images.toolTip()
    assert panel.settings().mmproj == str(ears.parent / "mmproj-Ears-F16.gguf")
    _pick(qtbot, chat_page, eyes)
    assert panel.images.text() == "With images"
