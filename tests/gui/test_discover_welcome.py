"""#16 "First start": with no model yet, Discover proposes one that fits this machine (the recommender's quant)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from app.core.settings import Settings
from app.estimate.hardware import spec_from_info
from app.hub import repo_detail
from app.hub.fit import fit_quants, reference_shape
from app.ui.context import AppContext
from app.ui.pages.discover import DiscoverPage
from tests.fakehub import TINY_REPO, FakeHub
from tests.gui.test_discover import RecordingDownloads
from tests.gui.test_discover_filters import machine
from tests.support.hardware import FixedHardware


def make_page(qtbot: Any, settings: Settings, downloads: RecordingDownloads, ram_gib: float) -> DiscoverPage:
    ctx = AppContext.create(settings, hardware=FixedHardware(machine(ram_gib)), downloads=downloads)
    page = DiscoverPage(ctx)
    qtbot.addWidget(page)
    page.resize(1440, 860)
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.show()
    return page


def test_a_first_start_proposes_a_model_that_fits(qtbot: Any, fake_hub: FakeHub, tmp_path: Path) -> None:
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "models"))
    downloads = RecordingDownloads()
    # 0.15 GiB free: the popular 1B and 3B models do not fit, the tiny one does (the gated one is skipped)
    page = make_page(qtbot, settings, downloads, 0.15)
    try:
        qtbot.waitUntil(lambda: page.first_start is not None, timeout=10_000)
        assert page.first_start and page.welcome.isVisible()
        qtbot.waitUntil(lambda: page.welcome.quant is not None, timeout=20_000)
        assert page.welcome.repo_id == TINY_REPO
        detail = repo_detail(TINY_REPO)
        expected = fit_quants(
            detail, spec_from_info(machine(0.15)), page.detail.ctx_spin.value(), reference_shape(detail)
        )
        assert expected.recommended is not None and page.welcome.quant == expected.recommended.quant
        assert expected.recommended.quant.label in page.welcome.label.text() and "Welcome" in page.welcome.label.text()
        qtbot.mouseClick(page.welcome.button, Qt.MouseButton.LeftButton)
        assert downloads.calls == [(TINY_REPO, list(expected.recommended.quant.paths))]
        assert not page.welcome.isVisible()
        page.grab().save(str(tmp_path / "discover-welcome.png"))
    finally:
        downloads.shutdown()


def test_no_proposal_once_a_model_is_there(qtbot: Any, fake_hub: FakeHub, tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "someone" / "repo").mkdir(parents=True)
    (models / "someone" / "repo" / "model.gguf").write_bytes(b"GGUF")
    settings = Settings()
    settings.update(models_dir=str(models))
    downloads = RecordingDownloads()
    page = make_page(qtbot, settings, downloads, 8)
    try:
        qtbot.waitUntil(lambda: page.first_start is not None, timeout=10_000)
        assert page.first_start is False and not page.welcome.isVisible()
    finally:
        downloads.shutdown()


def test_the_first_start_check_walks_the_models_folder_off_the_gui_thread(
    qtbot: Any, fake_hub: FakeHub, tmp_path: Path, monkeypatch: Any
) -> None:
    from app.library import scan

    walked_on: list[threading.Thread] = []
    real_scan = scan.scan_library

    def recording_scan(*args: Any, **kwargs: Any) -> Any:
        walked_on.append(threading.current_thread())
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(scan, "scan_library", recording_scan)
    models = tmp_path / "models"
    (models / "someone" / "repo").mkdir(parents=True)
    (models / "someone" / "repo" / "model.gguf").write_bytes(b"GGUF")
    settings = Settings()
    settings.update(models_dir=str(models))
    downloads = RecordingDownloads()
    page = make_page(qtbot, settings, downloads, 8)
    try:
        qtbot.waitUntil(lambda: page.first_start is not None, timeout=10_000)
        assert walked_on and threading.main_thread() not in walked_on
        assert page.first_start is False
    finally:
        downloads.shutdown()
