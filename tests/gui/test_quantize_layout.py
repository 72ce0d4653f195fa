"""The Quantize page's layout at common window sizes, and the imatrix chunk-size option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from app.core.errors import QuantizeError
from app.quantize.plan import plan_source
from app.ui.main_window import MainWindow
from app.ui.messages import message_bridge
from app.ui.models.quantize_targets import COL_FIT, COL_SIZE, COL_TYPE
from app.ui.pages.quantize import IMATRIX_AUTO, IMATRIX_FILE, IMATRIX_TEXT, QuantizePage
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


def _quantize_page(qtbot: Any, window: MainWindow, width: int, height: int) -> QuantizePage:
    window.resize(width, height)
    window.navigate("quantize")
    window.show()
    qtbot.waitExposed(window)
    page = window.page("quantize")
    assert isinstance(page, QuantizePage)
    QApplication.processEvents()  # let the splitters lay out at this size
    return page


def _visible_rows(page: QuantizePage) -> float:
    view = page.targets_view
    return view.viewport().height() / view.rowHeight(0)


def _fully_visible(widget: QWidget) -> bool:
    return widget.isVisible() and widget.visibleRegion().boundingRect() == widget.rect()


def test_targets_get_ten_rows_at_1280x800(qtbot: Any, window: MainWindow) -> None:
    page = _quantize_page(qtbot, window, 1280, 800)
    assert _visible_rows(page) >= 10
    assert _fully_visible(page.start_btn)


@pytest.mark.parametrize("advanced", [False, True])
def test_nothing_is_clipped_at_1100x700(qtbot: Any, window: MainWindow, advanced: bool) -> None:
    page = _quantize_page(qtbot, window, 1100, 700)
    page.advanced_toggle.setChecked(advanced)
    QApplication.processEvents()
    hint = page.minimumSizeHint()
    assert hint.width() <= page.width() and hint.height() <= page.height()
    for widget in (page.source, page.load_btn, page.start_btn, page.imatrix_mode, page.imatrix_ctx, page.cancel_btn):
        assert _fully_visible(widget), widget
    header = page.targets_view.horizontalHeader()
    fixed = sum(header.sectionSize(c) for c in (COL_TYPE, COL_SIZE, COL_FIT))
    assert fixed < page.targets_view.viewport().width()  # type, size and fit are never cut off
    assert _visible_rows(page) >= 6


@pytest.fixture
def page(quantize_page: QuantizePage) -> QuantizePage:
    return quantize_page


def test_chunk_size_is_enabled_only_when_a_matrix_is_computed(page: QuantizePage) -> None:
    spin = page.imatrix_ctx
    assert (spin.minimum(), spin.maximum(), spin.value()) == (64, 8192, 512)
    assert page.targets.checked()[0].name == "Q4_K_M" and not spin.isEnabled()  # Q4_K_M needs no matrix
    page.imatrix_mode.setCurrentIndex(IMATRIX_TEXT)
    assert spin.isEnabled()
    page.imatrix_mode.setCurrentIndex(IMATRIX_FILE)
    assert not spin.isEnabled()
    page.imatrix_mode.setCurrentIndex(IMATRIX_AUTO)
    assert not spin.isEnabled()
    row = next(r for r in range(page.targets.rowCount()) if page.targets.index(r, COL_TYPE).data() == "IQ2_XS")
    page.targets.setData(page.targets.index(row, COL_TYPE), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert spin.isEnabled()  # IQ2_XS needs a matrix: one will be computed
    page.targets.set_checked({"Q8_0"})
    assert not spin.isEnabled()


def _load(qtbot: Any, page: QuantizePage, source: Path) -> None:
    page.open_with(model=source)
    assert page._task is not None
    with qtbot.waitSignal(page._task.finished, timeout=20_000):
        pass
    assert page.plan is not None


def test_chunk_size_reaches_the_spec_and_is_checked(qtbot: Any, page: QuantizePage, tmp_path: Path) -> None:
    model = write_tiny_gguf(tmp_path / "tiny.gguf", TinySpec(context_length=256, tensor_type="F16"))
    _load(qtbot, page, model)
    assert page.plan is not None and page.plan.n_ctx_train == 256
    page.targets.set_checked({"IQ2_XS", "Q4_K_M"})
    page.imatrix_ctx.setValue(128)
    spec = page.build_spec()
    assert spec.imatrix_ctx == 128 and spec.imatrix is None and spec.calibration is None

    page.imatrix_ctx.setValue(1024)  # more than the model was trained with
    with pytest.raises(QuantizeError, match="256"):
        page.build_spec()
    with qtbot.waitSignal(message_bridge().shown, timeout=5_000) as shown:
        assert page.start() is None  # refused before any job starts
    assert shown.args[0] == "error" and "256" in shown.args[1] and page.jobs.rowCount() == 0

    page.targets.set_checked({"Q4_K_M"})  # no matrix computed: the chunk size does not matter
    assert page.build_spec().targets == ("Q4_K_M",)


def test_fit_verdicts_arrive_with_a_late_hardware_probe(qtbot: Any, page: QuantizePage, tmp_path: Path) -> None:
    _load(qtbot, page, write_tiny_gguf(tmp_path / "tiny.gguf", TinySpec()))
    assert page.plan is not None and page.plan.fits == {}  # read before the hardware was known
    with qtbot.waitSignal(page.ctx.hardware.ready, timeout=30_000):
        page.ctx.hardware.start()
    qtbot.waitUntil(lambda: page.plan is not None and bool(page.plan.fits), timeout=20_000)
    assert page.plan is not None
    assert page.targets.index(0, COL_FIT).data() == page.plan.fits[page.targets.index(0, COL_TYPE).data()]


def test_fit_verdicts_arrive_when_the_probe_ends_while_the_source_is_read(
    qtbot: Any, page: QuantizePage, tmp_path: Path
) -> None:
    with qtbot.waitSignal(page.ctx.hardware.ready, timeout=30_000):
        page.ctx.hardware.start()
    stale = plan_source(write_tiny_gguf(tmp_path / "tiny.gguf", TinySpec()), None)  # read without hardware
    page._source_ready(stale)  # its result arrives after the probe's `ready`
    qtbot.waitUntil(lambda: page.plan is not None and bool(page.plan.fits), timeout=20_000)
    assert page.targets.index(0, COL_FIT).data() != "—"
