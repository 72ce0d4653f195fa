"""The Chat load panel does not offer flash attention for a model llama.cpp cannot run with it (PLM:
app.estimate.flash), says why, and offers it again for the next model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.settings import Settings
from app.gguf.synthetic_arch import TRANSFORMER_SPECS, write_arch_gguf
from app.ui.context import AppContext
from app.ui.pages.chat_load import LoadPanel
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


def test_flash_attention_is_off_and_explained_for_plm(qtbot: Any, tmp_path: Path) -> None:
    plm = write_arch_gguf(tmp_path / "plm.gguf", TRANSFORMER_SPECS["plm"])
    llama = write_tiny_gguf(tmp_path / "llama.gguf", TinySpec(n_vocab=600))
    panel = LoadPanel(AppContext.create(Settings()))
    qtbot.addWidget(panel)
    panel.resize(900, 300)
    panel.show()
    panel.flash.setCurrentText("on")

    panel.add_model_path(str(plm))
    qtbot.waitUntil(lambda: panel.model is not None and panel.model.path == str(plm), timeout=20_000)
    assert not panel.flash.isEnabled() and panel.flash.currentText() == "off"
    assert "PLM" in panel.flash.toolTip()
    assert panel.settings().flash_attn == "off"
    assert panel.grab().save(str(tmp_path / "chat-load-flash.png"))  # to look at: pytest --basetemp=DIR

    panel.add_model_path(str(llama))
    qtbot.waitUntil(lambda: panel.model is not None and panel.model.path == str(llama), timeout=20_000)
    assert panel.flash.isEnabled() and panel.flash.currentText() == "on" and panel.flash.toolTip() == ""
