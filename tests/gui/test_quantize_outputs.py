"""The Quantize page never rewrites a file unasked, writes into the models folder, warns when a source is picked,
and leads from a finished job to Chat and the Library (issue 16, item 7)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.convert.converter import convert
from app.quantize.quality_file import KLD_EXPLAINED, sidecar_path
from app.ui.models.quantize_targets import COL_SIZE, COL_TYPE
from app.ui.pages.quantize import QUALITY_LINE, QuantizePage
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-outputs")
    return convert(make_tiny_hf(root / "qwen2", "qwen2"), root / "qwen2-F16.gguf", "f16").path


def _load(qtbot: Any, page: QuantizePage, source: Path) -> None:
    page.open_with(model=source)
    qtbot.waitUntil(lambda: page.plan is not None, timeout=30_000)


def _answer_next_question(button_text: str, seen: list[str]) -> None:
    """Click `button_text` in the question the page is about to open (a real modal box, answered as a user)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox), box
        seen.append(box.text())
        button = next(b for b in box.buttons() if b.text().replace("&", "") == button_text)
        button.click()

    QTimer.singleShot(0, click)


def _run_to_end(qtbot: Any, page: QuantizePage, job_id: int | None) -> Any:
    assert job_id is not None
    qtbot.waitUntil(lambda: not page.jobs.job(page.jobs.row_of(job_id)).active, timeout=180_000)
    job = page.jobs.job(page.jobs.row_of(job_id))
    assert job.status == "done", job.message
    return job


def test_a_second_run_asks_before_touching_the_first_and_the_job_leads_on(
    qtbot: Any, quantize_page: QuantizePage, tiny_gguf: Path, tmp_path: Path
) -> None:
    page = quantize_page
    visits: list[tuple[str, dict[str, Any]]] = []
    page.ctx = replace(page.ctx, navigate=lambda name, **kw: visits.append((name, kw)))
    _load(qtbot, page, tiny_gguf)
    out = tmp_path / "out"
    page.out_dir.setText(str(out))
    page.targets.set_checked({"Q8_0"})
    page.quality.setChecked(True)
    first = _run_to_end(qtbot, page, page.start())
    quant = out / "qwen2-Q8_0.gguf"
    assert [o.path for o in first.outputs if o.kind == "quant"] == [quant]
    # The score is explained where it is shown.
    assert QUALITY_LINE in page.results.text() and page.results.toolTip() == KLD_EXPLAINED
    # From the finished job to the model, in one click each.
    assert page.chat_btn.isEnabled() and page.library_btn.isEnabled()
    page.chat_btn.click()
    page.library_btn.click()
    assert visits == [("chat", {"model": str(quant)}), ("library", {"model": str(quant)})]

    before = quant.read_bytes(), sidecar_path(quant).read_bytes()
    seen: list[str] = []
    _answer_next_question("Cancel", seen)
    assert page.start() is None  # nothing started, nothing touched
    assert seen and "qwen2-Q8_0.gguf already exists" in seen[0]
    assert page.jobs.rowCount() == 1

    _answer_next_question("Keep both", seen)
    second = _run_to_end(qtbot, page, page.start())
    assert [o.path.name for o in second.outputs if o.kind == "quant"] == ["qwen2-Q8_0-2.gguf"]
    assert (quant.read_bytes(), sidecar_path(quant).read_bytes()) == before
    assert sidecar_path(out / "qwen2-Q8_0-2.gguf").is_file()


def test_cancelling_a_replacement_keeps_the_earlier_file_and_its_score(
    qtbot: Any, quantize_page: QuantizePage, tiny_gguf: Path, tmp_path: Path
) -> None:
    page = quantize_page
    out = tmp_path / "out"
    out.mkdir()
    earlier = out / "qwen2-IQ2_XS.gguf"
    earlier.write_bytes(b"an earlier quant")
    sidecar_path(earlier).write_text('{"an": "earlier score"}', encoding="utf-8")
    _load(qtbot, page, tiny_gguf)
    page.targets.set_checked({"IQ2_XS"})  # an importance matrix is computed first: time to cancel
    page.out_dir.setText(str(out))
    page.imatrix_ctx.setValue(64)
    seen: list[str] = []
    _answer_next_question("Replace", seen)
    job_id = page.start()
    assert job_id is not None
    qtbot.waitUntil(lambda: "quantize" in page.jobs.job(page.jobs.row_of(job_id)).stage, timeout=60_000)
    page.cancel_selected()
    assert page.jobs.job(page.jobs.row_of(job_id)).status == "cancelled"
    assert earlier.read_bytes() == b"an earlier quant"
    assert sidecar_path(earlier).read_text(encoding="utf-8") == '{"an": "earlier score"}'
    assert seen and "qwen2-IQ2_XS.gguf already exists" in seen[0]  # replaced only when the user said so
    assert not page.chat_btn.isEnabled()


def test_an_hf_folder_goes_into_the_models_folder_without_its_f16(
    qtbot: Any, quantize_page: QuantizePage, tmp_path: Path
) -> None:
    page = quantize_page
    folder = make_tiny_hf(tmp_path / "elsewhere" / "qwen2", "qwen2")
    _load(qtbot, page, folder)
    info = page.source_info.text()
    assert "0M parameters" not in info and "1.3M parameters" in info, info
    q8 = next(r for r in range(page.targets.rowCount()) if page.targets.index(r, COL_TYPE).data() == "Q8_0")
    assert page.targets.index(q8, COL_SIZE).data() == "1.3 MiB"  # the quant below is 1,415,168 bytes
    models = tmp_path / "models"
    assert page.out_dir.placeholderText() == str(models / "local" / "qwen2")
    assert page.keep_f16.isEnabled() and not page.keep_f16.isChecked()
    page.targets.set_checked({"Q8_0"})
    job = _run_to_end(qtbot, page, page.start())
    assert [o.path for o in job.outputs] == [models / "local" / "qwen2" / "qwen2-Q8_0.gguf"]
    assert sorted(p.name for p in (models / "local" / "qwen2").iterdir()) == ["qwen2-Q8_0.gguf"]
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".gguf") == []  # nothing beside the source
    assert page.ctx.settings.values.library_folders == ()  # the models folder is scanned already
    page.keep_f16.setChecked(True)
    assert page.build_spec().scratch_outputs() == []
    assert page.no_mtp.isEnabled() and not page.build_spec().no_mtp  # MTP layers kept unless asked
    page.no_mtp.setChecked(True)
    assert page.build_spec().no_mtp


def test_an_already_quantized_source_is_flagged_when_picked(
    qtbot: Any, quantize_page: QuantizePage, gemma_model: Path, tiny_gguf: Path
) -> None:
    page = quantize_page
    _load(qtbot, page, gemma_model)
    assert "is already quantized" in page.source_info.text()
    assert page.jobs.rowCount() == 0 and not page.keep_f16.isEnabled() and not page.no_mtp.isEnabled()
    page.plan = None
    _load(qtbot, page, tiny_gguf)
    assert "already quantized" not in page.source_info.text()  # an F16 source is what quantizing wants
