"""Discover's "With images" switch (#13 item 6): shown for a repository with a vision projector; when on, every
verdict counts the projector (read remotely) as app.hub.fit does with it."""

from __future__ import annotations

from typing import Any

from app.core.settings import Settings
from app.estimate.hardware import spec_from_info
from app.hub import repo_detail
from app.hub.fit import fit_quants, reference_shape
from app.hub.projector import remote_projector_memory
from app.ui.context import AppContext
from app.ui.pages.discover import DiscoverPage
from tests.fakehub import LADDER_REPO, SPLIT_REPO, FakeHub
from tests.gui.test_discover import search, select, small_machine
from tests.support.hardware import FixedHardware


def test_with_images_counts_the_projector_in_every_verdict(qtbot: Any, fake_hub: FakeHub) -> None:
    page = DiscoverPage(AppContext.create(Settings(), hardware=FixedHardware(small_machine())))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.show()
    search(qtbot, page, "fake")
    select(qtbot, page, LADDER_REPO)
    detail_pane = page.detail
    switch = detail_pane.with_images
    assert switch.isVisible() and not switch.isChecked()
    before = [detail_pane.model.fit(r).verdict for r in range(detail_pane.model.rowCount())]

    with qtbot.waitSignal(detail_pane.fit_ready, timeout=10_000):
        switch.setChecked(True)  # reads the projector's header, then recomputes
    qtbot.waitUntil(lambda: detail_pane.fit is not None and detail_pane.fit.projector_bytes > 0, timeout=10_000)
    detail = repo_detail(LADDER_REPO)
    memory = remote_projector_memory(detail)
    assert memory is not None and detail_pane.fit.projector_bytes == memory.total
    expected = fit_quants(detail, spec_from_info(small_machine()), detail_pane.ctx_spin.value(),
                          reference_shape(detail), projector_bytes=memory.total)
    shown = [detail_pane.model.fit(r).verdict for r in range(detail_pane.model.rowCount())]
    assert [(v.kind, v.ram_bytes, v.vram_bytes) for v in shown] == [
        (f.verdict.kind, f.verdict.ram_bytes, f.verdict.vram_bytes) for f in expected.fits]
    assert [v.ram_bytes + v.vram_bytes for v in shown] != [v.ram_bytes + v.vram_bytes for v in before]
    assert "and images" in detail_pane.reason.text()
    page.grab().save("/tmp/discover-with-images.png")

    with qtbot.waitSignal(detail_pane.fit_ready, timeout=10_000):
        switch.setChecked(False)
    assert detail_pane.fit is not None and detail_pane.fit.projector_bytes == 0

    search(qtbot, page, "Big-Fake")
    select(qtbot, page, SPLIT_REPO)
    assert not switch.isVisible()  # no projector in that repository
