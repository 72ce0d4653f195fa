"""#16 item 9 on Discover: a selected quant row stays readable, no column header is clipped at 1440×900, and
the memory column says why a repacked quant can need more RAM than a larger one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.core.settings import Settings
from app.hardware import HardwareInfo, LlamaBackend
from app.ui.main_window import MainWindow
from app.ui.models.hub_quants import COL_FIT, COL_MEMORY, COL_QUANT
from app.ui.pages.discover import DiscoverPage
from app.ui.theme import apply_theme
from app.ui.widgets.quant_badge import BADGE_COLOURS
from tests.fakehub import LADDER_REPO, FakeHub
from tests.gui.test_discover import search, select, small_machine
from tests.support.hardware import FixedHardware

GIB = 1024**3


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""

    def luminance(c: QColor) -> float:
        def channel(v: int) -> float:
            s = v / 255
            return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def themed_window(qtbot: Any, fake_hub: FakeHub, request: pytest.FixtureRequest) -> Iterator[MainWindow]:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, getattr(request, "param", "light"))
    window = MainWindow(Settings(), hardware=FixedHardware(small_machine()))
    qtbot.addWidget(window)
    window.resize(1440, 900)
    window.navigate("discover")
    page = window.page("discover")
    assert isinstance(page, DiscoverPage)
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        window.show()
    yield window
    apply_theme(app, "system")


@pytest.mark.parametrize("themed_window", ["light", "dark"], indirect=True)
def test_the_selected_quant_row_is_readable(qtbot: Any, themed_window: MainWindow, tmp_path: Path) -> None:
    page = themed_window.page("discover")
    assert isinstance(page, DiscoverPage)
    search(qtbot, page, "fake")
    select(qtbot, page, LADDER_REPO)
    table, model = page.detail.table, page.detail.model
    table.selectRow(0)
    QApplication.processEvents()
    image = table.viewport().grab().toImage()
    fit_rect = table.visualRect(model.index(0, COL_FIT))
    background = image.pixelColor(fit_rect.right() - 3, fit_rect.top() + 3)  # beside the badge
    dark = table.palette().color(QPalette.ColorRole.Base).lightness() < 128
    fit = model.fit(0)
    assert fit is not None
    badge = BADGE_COLOURS[fit.verdict.kind].lighter(160) if dark else BADGE_COLOURS[fit.verdict.kind]
    assert contrast(badge, background) >= 3.0, (badge.name(), background.name())
    memory_text = table.palette().color(QPalette.ColorRole.PlaceholderText)
    assert contrast(memory_text, background) >= 2.5, (memory_text.name(), background.name())
    text = table.palette().color(QPalette.ColorGroup.Active, QPalette.ColorRole.HighlightedText)
    assert contrast(text, background) >= 4.5, (text.name(), background.name())
    assert background != table.palette().color(QPalette.ColorRole.Base)  # still visibly selected
    themed_window.grab().save(str(tmp_path / "discover-selected.png"))


def test_no_quant_column_header_is_clipped_at_1440x900(qtbot: Any, themed_window: MainWindow) -> None:
    page = themed_window.page("discover")
    assert isinstance(page, DiscoverPage)
    search(qtbot, page, "fake")
    select(qtbot, page, LADDER_REPO)
    header = page.detail.table.horizontalHeader()
    metrics = header.fontMetrics()
    for column in range(page.detail.model.columnCount()):
        text = page.detail.model.headerData(column, Qt.Orientation.Horizontal) or ""
        widest = max(metrics.horizontalAdvance(line) for line in text.splitlines() or [""])
        assert header.sectionSize(column) >= widest + 8, text
    tip = page.detail.model.headerData(COL_MEMORY, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "VRAM" in tip and "RAM" in tip


def test_a_repacked_quant_says_why_it_needs_more_ram(qtbot: Any, fake_hub: FakeHub) -> None:
    """On an AVX2 CPU without a GPU, Q4_K weights are repacked (a second copy), Q5_K weights are not."""
    cpu_only = HardwareInfo(
        ram_total=16 * GIB,
        ram_available=12 * GIB,
        cpu_name="Test CPU",
        cpu_physical_cores=4,
        cpu_logical_cores=8,
        os="Linux",
        machine="x86_64",
        gpus=(),
        llama=LlamaBackend("test", False, ("cpu",), "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | REPACK = 1"),
    )
    from app.ui.context import AppContext

    page = DiscoverPage(AppContext.create(Settings(), hardware=FixedHardware(cpu_only)))
    qtbot.addWidget(page)
    page.resize(1440, 860)
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.show()
    search(qtbot, page, "fake")
    select(qtbot, page, LADDER_REPO)
    model = page.detail.model
    labels = [model.quant(r).label for r in range(model.rowCount())]
    q4, q5 = labels.index("Q4_K_M"), labels.index("Q5_K_M")
    tip4 = model.index(q4, COL_QUANT).data(Qt.ItemDataRole.ToolTipRole)
    tip5 = model.index(q5, COL_QUANT).data(Qt.ItemDataRole.ToolTipRole)
    assert "CPU_REPACK" in tip4 and "repacked weights" in tip4
    assert "CPU_REPACK" not in tip5
