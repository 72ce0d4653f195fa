"""The Quantize page: predictions for a source, a job to the end, cancel, and a job that dies."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from app.convert.converter import convert
from app.ui.models.quantize_targets import COL_SIZE, COL_TYPE
from app.ui.pages.quantize import QuantizePage
from tests.support.tiny_hf import make_tiny_hf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-page")
    return convert(make_tiny_hf(root / "qwen2", "qwen2"), root / "qwen2-F16.gguf", "f16").path


@pytest.fixture
def page(quantize_page: QuantizePage) -> QuantizePage:
    return quantize_page


def _row(page: QuantizePage, name: str) -> int:
    return next(r for r in range(page.targets.rowCount()) if page.targets.index(r, COL_TYPE).data() == name)


def _load(qtbot: Any, page: QuantizePage, source: Path) -> None:
    page.open_with(model=source)
    qtbot.waitUntil(lambda: page.plan is not None, timeout=20_000)


def test_models_pass_the_model_tester(qtmodeltester: Any, page: QuantizePage) -> None:
    qtmodeltester.check(page.targets)
    qtmodeltester.check(page.jobs)


def test_source_shows_predicted_sizes(qtbot: Any, page: QuantizePage, tiny_gguf: Path) -> None:
    _load(qtbot, page, tiny_gguf)
    assert "GGUF file" in page.source_info.text()
    q8 = page.targets.index(_row(page, "Q8_0"), COL_SIZE).data()
    q4 = page.targets.index(_row(page, "Q4_K_M"), COL_SIZE).data()
    assert q8 != "—" and q4 != "—" and q8 != q4
    page.grab().save(str(Path(os.environ["GGUF_STUDIO_HOME"]).parent / "quantize-page.png"))


def test_bad_source_is_explained(qtbot: Any, page: QuantizePage, tmp_path: Path) -> None:
    page.open_with(model=tmp_path / "nothing-here")
    assert "does not exist" in page.source_info.text()


def test_job_runs_to_the_end(qtbot: Any, page: QuantizePage, tiny_gguf: Path, tmp_path: Path) -> None:
    _load(qtbot, page, tiny_gguf)
    page.targets.set_checked({"Q8_0", "Q4_K_M"})
    page.out_dir.setText(str(tmp_path / "out"))
    page.quality.setChecked(True)
    job_id = page.start()
    assert job_id is not None
    qtbot.waitUntil(lambda: page.jobs.job(page.jobs.row_of(job_id)).status != "running", timeout=120_000)
    job = page.jobs.job(page.jobs.row_of(job_id))
    assert job.status == "done", job.message
    names = sorted(o.path.name for o in job.outputs if o.kind == "quant")
    assert names == ["qwen2-Q4_K_M.gguf", "qwen2-Q8_0.gguf"]
    assert "qwen2-Q8_0.gguf" in page.results.text() and "KLD" in page.results.text()
    assert page.ctx.settings.values.library_folders == ()  # the outputs are linked in, not their folder
    linked = sorted(p.name for p in (page.ctx.settings.models_path() / "imported").rglob("*.gguf"))
    assert linked == ["qwen2-Q4_K_M.gguf", "qwen2-Q8_0.gguf"]


def _start_slow_job(qtbot: Any, page: QuantizePage, tiny_gguf: Path, out: Path) -> int:
    _load(qtbot, page, tiny_gguf)
    page.targets.set_checked({"IQ2_XS"})
    page.out_dir.setText(str(out))
    assert page.imatrix_ctx.isEnabled()  # IQ2_XS needs a matrix, computed before quantizing
    page.imatrix_ctx.setValue(64)
    job_id = page.start()
    assert job_id is not None
    qtbot.waitUntil(lambda: "quantize" in page.jobs.job(page.jobs.row_of(job_id)).stage, timeout=60_000)
    log = page.jobs.job(page.jobs.row_of(job_id)).log
    assert any(re.fullmatch(r"imatrix: \d+ chunks of 64 tokens from default\.txt", line) for line in log), log
    return job_id


def test_cancel_leaves_nothing_and_the_page_lives(
    qtbot: Any, page: QuantizePage, tiny_gguf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    job_id = _start_slow_job(qtbot, page, tiny_gguf, out)
    page.cancel_selected()
    job = page.jobs.job(page.jobs.row_of(job_id))
    assert job.status == "cancelled"
    assert not [p for p in out.iterdir() if p.name.endswith(".part") or "IQ2_XS" in p.name]
    assert page.isVisible() and not page.cancel_btn.isEnabled()


def test_crashed_worker_is_an_error_not_a_dead_window(
    qtbot: Any, page: QuantizePage, tiny_gguf: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    job_id = _start_slow_job(qtbot, page, tiny_gguf, out)
    run = page.jobs._runs[job_id]
    assert run.process.pid is not None
    os.kill(run.process.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: page.jobs.job(page.jobs.row_of(job_id)).status == "failed", timeout=30_000)
    assert "killed (SIGKILL)" in page.jobs.job(page.jobs.row_of(job_id)).message  # the one process layer's outcome
    assert not [p for p in out.iterdir() if p.name.endswith(".part") or "IQ2_XS" in p.name]
    assert page.isVisible()


def test_hub_repo_source_comes_through_the_download_queue(
    qtbot: Any, page: QuantizePage, fake_hub_empty: Any, tmp_path: Path
) -> None:
    from tests.fakehub.repo import FakeRepo

    folder = make_tiny_hf(tmp_path / "src", "gemma3")
    repo = fake_hub_empty.add_repo(FakeRepo("tiny-org/tiny-gemma"))
    for f in sorted(folder.iterdir()):
        repo.add_file(f.name, f, lfs=f.suffix == ".safetensors")
    page.open_with(model="tiny-org/tiny-gemma")
    qtbot.waitUntil(lambda: page.plan is not None, timeout=60_000)
    assert page.plan is not None and page.plan.source == tmp_path / "models" / "tiny-org" / "tiny-gemma"
    assert "Hugging Face folder" in page.source_info.text()
    items = page.ctx.downloads.items()
    assert [i.repo_id for i in items] == ["tiny-org/tiny-gemma"] and items[0].state.value == "done"


def test_advanced_tensor_types_reach_the_spec(qtbot: Any, page: QuantizePage, tiny_gguf: Path) -> None:
    from app.core.errors import QuantizeError
    from app.ui.pages.quantize import parse_overrides

    _load(qtbot, page, tiny_gguf)
    page.output_type.setCurrentText("Q8_0")
    page.overrides.setText("ffn_down=q6_k; attn_v=Q8_0")
    spec = page.build_spec()
    assert spec.options.output_type == "Q8_0" and spec.options.token_embedding_type is None
    assert spec.options.overrides == (("ffn_down", "Q6_K"), ("attn_v", "Q8_0"))
    with pytest.raises(QuantizeError):
        parse_overrides("ffn_down")
