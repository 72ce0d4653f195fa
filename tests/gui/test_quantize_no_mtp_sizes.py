"""The Quantize page's predicted sizes follow "Leave out multi-token-prediction layers" for a Hugging Face
folder: the MTP block counts only while it is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.core.units import format_bytes
from app.quantize.plan import plan_source
from app.ui.models.quantize_targets import COL_SIZE, COL_TYPE
from app.ui.pages.quantize import QuantizePage
from app.ui.tasks import running_tasks
from tests.support.tiny_hf import make_tiny_mtp

pytestmark = pytest.mark.slow


def _shown_size(page: QuantizePage, name: str) -> str:
    row = next(r for r in range(page.targets.rowCount()) if page.targets.index(r, COL_TYPE).data() == name)
    return str(page.targets.index(row, COL_SIZE).data())


def _settled(qtbot: Any, page: QuantizePage, no_mtp: bool) -> None:
    qtbot.waitUntil(lambda: page.plan is not None and page.plan.no_mtp == no_mtp, timeout=30_000)


def test_the_size_prediction_follows_the_no_mtp_option(qtbot: Any, quantize_page: QuantizePage, tmp_path: Path) -> None:
    page = quantize_page
    folder = make_tiny_mtp(tmp_path / "qwen3next", "qwen3next")
    kept, left_out = plan_source(folder, None), plan_source(folder, None, no_mtp=True)
    assert left_out.sizes["Q8_0"] < kept.sizes["Q8_0"]
    page.open_with(model=folder)
    _settled(qtbot, page, no_mtp=False)
    assert page.no_mtp.isEnabled() and not page.no_mtp.isChecked()
    assert _shown_size(page, "Q8_0") == format_bytes(kept.sizes["Q8_0"])
    assert page.source_info.text().startswith(kept.summary)

    page.no_mtp.setChecked(True)
    _settled(qtbot, page, no_mtp=True)
    assert dict(page.plan.sizes) == dict(left_out.sizes)
    assert _shown_size(page, "Q8_0") == format_bytes(left_out.sizes["Q8_0"]) != format_bytes(kept.sizes["Q8_0"])
    assert page.source_info.text().startswith(left_out.summary)  # fewer tensors and parameters
    assert page.build_spec().no_mtp

    # Ticked off and on again while the folder is still being read: the plan shown is for the box as it is now.
    page.no_mtp.setChecked(False)  # reads the folder with its MTP block...
    page.no_mtp.setChecked(True)  # ...and that plan, arriving late, is read again without it
    assert page.plan is not None and page.build_spec().no_mtp  # a job can start meanwhile
    qtbot.waitUntil(lambda: running_tasks() == 0, timeout=60_000)
    assert page.plan is not None and page.plan.no_mtp
    assert _shown_size(page, "Q8_0") == format_bytes(left_out.sizes["Q8_0"])
