"""Fixtures shared by the GUI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from app.core.settings import Settings
from app.ui.context import AppContext
from app.ui.hardware_watch import HardwareWatch
from app.ui.main_window import MainWindow
from app.ui.messages import message_bridge
from app.ui.pages.quantize import QuantizePage
from app.ui.theme import apply_theme

# The fake Hub's fixtures (fake_hub, fake_hub_empty, fake_hub_gemma, autouse hf_token_in_tmp).
# A star import, because pytest_plugins is only allowed in the top-level conftest.
from tests.fakehub.fixtures import *  # noqa: F403


@pytest.fixture
def window(qtbot: Any) -> MainWindow:
    """The main window in the saved theme, not shown yet."""
    settings = Settings()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, settings.values.theme)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    return win


@pytest.fixture
def quantize_page(qtbot: Any, tmp_path: Path) -> Iterator[QuantizePage]:
    """A Quantize page on its own, shown at 1100x800, with its models folder in tmp_path."""
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "models"))
    ctx = AppContext(settings=settings, hardware=HardwareWatch(), messages=message_bridge())
    widget = QuantizePage(ctx)
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    widget.show()
    yield widget
    widget.shutdown()
    downloads = ctx.services.get("downloads")
    if downloads is not None:
        downloads.shutdown()
