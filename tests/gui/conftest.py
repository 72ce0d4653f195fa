"""Fixtures shared by the GUI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from app.core.settings import Settings
from app.ui.context import AppContext
from app.ui.main_window import MainWindow
from app.ui.pages.chat import ChatPage
from app.ui.pages.quantize import QuantizePage
from app.ui.theme import apply_theme

# The fake Hub's fixtures come from the root conftest (pytest_plugins).


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
    ctx = AppContext.create(settings)
    widget = QuantizePage(ctx)
    qtbot.addWidget(widget)
    widget.resize(1100, 800)
    widget.show()
    yield widget
    widget.shutdown()
    ctx.shutdown()


@pytest.fixture
def chat_page(qtbot: Any) -> Iterator[ChatPage]:
    """A Chat page on its own with default settings, shown at 1100x750 (made after the fixtures listed before it)."""
    widget = ChatPage(AppContext.create(Settings()))
    qtbot.addWidget(widget)
    widget.resize(1100, 750)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()
