"""The Discover page driven with qtbot against the fake Hub: search → select → quants and verdicts → Download."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from app.core.settings import Settings
from app.estimate.hardware import spec_from_info
from app.estimate.verdict import VERDICT_WORDS, VerdictKind
from app.hardware import GpuInfo, HardwareInfo, LlamaBackend
from app.hub import repo_detail
from app.hub.fit import fit_quants, reference_shape
from app.ui.context import AppContext
from app.ui.hardware_watch import HardwareWatch
from app.ui.models.download_service import DownloadService
from app.ui.models.hub_quants import (
    COL_DOWNLOAD,
    COL_FIT,
    COL_MAX_CTX,
    COL_QUANT,
    COL_SIZE,
    context_words,
    human_size,
)
from app.ui.pages.discover import RETRY, DiscoverPage
from tests.fakehub import GATED_REPO, LADDER_REPO, LADDER_TYPES, N_FILLER, SPLIT_REPO, FakeHub
from tests.fakehub.catalogue import MOE_REPO, MOE_TYPES, add_moe_repo
from tests.support.hardware import FixedHardware

GIB = 1024**3


def small_machine() -> HardwareInfo:
    """A machine with known memory: 1.5 GiB RAM available and a GPU with 0.9 GiB free."""
    return HardwareInfo(
        ram_total=4 * GIB,
        ram_available=int(1.5 * GIB),
        cpu_name="Test CPU",
        cpu_physical_cores=4,
        cpu_logical_cores=8,
        os="Linux",
        machine="x86_64",
        gpus=(GpuInfo(0, "Test GPU", 2 * GIB, int(0.9 * GIB)),),
        llama=LlamaBackend("test", True, ("cpu", "cuda"), ""),
    )


class RecordingDownloads(DownloadService):
    """The app's download service that records what the page queues instead of downloading it."""

    def __init__(self) -> None:
        super().__init__(Settings())
        self.calls: list[tuple[str, list[str]]] = []

    def enqueue(self, repo_id: str, filenames: Sequence[str], revision: str = "main") -> Any:
        self.calls.append((repo_id, list(filenames)))


@pytest.fixture
def downloads() -> Iterator[RecordingDownloads]:
    service = RecordingDownloads()
    yield service
    service.shutdown()


@pytest.fixture
def page(qtbot: Any, fake_hub: FakeHub, downloads: RecordingDownloads) -> DiscoverPage:
    ctx = AppContext.create(Settings(), hardware=FixedHardware(small_machine()), downloads=downloads)
    page = DiscoverPage(ctx)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.show()
    return page


def search(qtbot: Any, page: DiscoverPage, text: str) -> None:
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.search_box.clear()
        qtbot.keyClicks(page.search_box, text)


def select(qtbot: Any, page: DiscoverPage, repo_id: str) -> None:
    ids = [r.repo_id for r in page.results_model.results()]
    with qtbot.waitSignal(page.detail.detail_loaded, timeout=10_000):
        page.results_view.selectRow(ids.index(repo_id))
    qtbot.waitUntil(lambda: page.detail.fit is not None and page.detail.fit.exact, timeout=10_000)


def test_first_show_lists_popular_models(page: DiscoverPage, qtmodeltester: Any) -> None:
    model = page.results_model
    assert model.rowCount() == 30 and model.has_more
    downloads = [r.downloads for r in model.results()]
    assert downloads == sorted(downloads, reverse=True)
    qtmodeltester.check(model)


def test_search_is_debounced(qtbot: Any, page: DiscoverPage, fake_hub: FakeHub) -> None:
    fake_hub.clear_requests()
    search(qtbot, page, "fake")
    assert [r.repo_id for r in page.results_model.results()] == [LADDER_REPO, SPLIT_REPO, GATED_REPO]
    searches = [r for r in fake_hub.requests_for("/api/models", method="GET") if "search=" in r.query]
    assert len(searches) == 1 and "search=fake" in searches[0].query


def test_sort_control(qtbot: Any, page: DiscoverPage) -> None:
    search(qtbot, page, "fake")
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.sort_box.setCurrentIndex(1)  # most likes
    assert [r.repo_id for r in page.results_model.results()] == [GATED_REPO, LADDER_REPO, SPLIT_REPO]


def test_quants_sizes_and_verdicts(
    qtbot: Any, page: DiscoverPage, fake_hub: FakeHub, downloads: RecordingDownloads, qtmodeltester: Any
) -> None:
    search(qtbot, page, "fake")
    select(qtbot, page, LADDER_REPO)
    model = page.detail.model
    qtmodeltester.check(model)
    repo = fake_hub.repo(LADDER_REPO)
    labels = [model.quant(r).label for r in range(model.rowCount())]
    assert labels == list(LADDER_TYPES)
    for row in range(model.rowCount()):
        q = model.quant(row)
        assert q.size == repo.files[q.first.path].size
        assert model.index(row, COL_SIZE).data() == human_size(q.size)
    # the verdicts are app.estimate's for this machine at the chosen context
    detail = repo_detail(LADDER_REPO)
    spec = spec_from_info(small_machine())
    expected = fit_quants(detail, spec, page.detail.ctx_spin.value(), reference_shape(detail))
    shown = [model.fit(r) for r in range(model.rowCount())]
    assert [f.verdict.kind for f in shown if f] == [f.verdict.kind for f in expected.fits]
    assert len({f.verdict.kind for f in expected.fits}) > 1  # a machine where the choice matters
    best = model.recommended_row()
    assert best is not None and expected.fits[best].recommended
    best_index = model.index(best, COL_QUANT)
    assert best_index.data(Qt.ItemDataRole.FontRole).bold() and best_index.data().startswith("★")
    assert page.detail.reason.isVisible() and f"Recommended: {labels[best]}" in page.detail.reason.text()
    assert model.index(0, COL_FIT).data() in set(VERDICT_WORDS.values())
    assert len(page.detail.ladder.points()) == len(LADDER_TYPES)
    assert "Llama Fake 1B GGUF" in page.detail.card.toPlainText()

    button = page.detail.table.indexWidget(model.index(best, COL_DOWNLOAD))
    assert isinstance(button, QPushButton) and button.isEnabled()
    offer = page.detail.with_projector
    assert offer.isChecked() and "mmproj-Llama-Fake-1B-F16.gguf" in offer.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    # the quant, and the vision projector beside it (its own item, offered by a box ticked by default)
    assert downloads.calls == [(LADDER_REPO, [model.quant(best).first.path]),
                               (LADDER_REPO, ["mmproj-Llama-Fake-1B-F16.gguf"])]


def test_each_quant_shows_the_largest_context_its_verdict_holds_at(
    qtbot: Any, page: DiscoverPage, tmp_path: Path
) -> None:
    search(qtbot, page, "fake")
    select(qtbot, page, LADDER_REPO)
    model = page.detail.model
    assert model.headerData(COL_MAX_CTX, Qt.Orientation.Horizontal).replace("\n", " ") == "Max context"
    detail = repo_detail(LADDER_REPO)
    spec = spec_from_info(small_machine())
    expected = fit_quants(detail, spec, page.detail.ctx_spin.value(), reference_shape(detail))
    shown = [model.index(r, COL_MAX_CTX).data() for r in range(model.rowCount())]
    assert shown == [context_words(f.verdict.max_ctx) for f in expected.fits]
    assert len(set(shown)) > 1  # on this small machine the quants differ
    for r, fit in enumerate(expected.fits):
        if fit.verdict.max_ctx:
            assert f"{fit.verdict.max_ctx:,} tokens" in model.index(r, COL_MAX_CTX).data(Qt.ItemDataRole.ToolTipRole)
    assert context_words(32768) == "32k" and context_words(1280) == "1.25k" and context_words(0) == "–"
    assert page.grab().save(str(tmp_path / "discover-max-context.png"))  # to look at: pytest --basetemp=DIR


def test_a_mixture_of_experts_fits_with_some_experts_in_ram(
    qtbot: Any, page: DiscoverPage, fake_hub: FakeHub, tmp_path: Path
) -> None:
    add_moe_repo(fake_hub)
    search(qtbot, page, "Mixtral")
    select(qtbot, page, MOE_REPO)
    model = page.detail.model
    detail = repo_detail(MOE_REPO)
    spec = spec_from_info(small_machine())
    expected = fit_quants(detail, spec, page.detail.ctx_spin.value(), reference_shape(detail))
    assert [f.verdict.kind for f in expected.fits] == [VerdictKind.EXPERTS_CPU] * len(MOE_TYPES)
    experts = [f.verdict.experts_on_cpu for f in expected.fits]
    assert experts == sorted(experts) and 0 < experts[0] < experts[-1]  # larger quants keep more experts in RAM
    for row, fit in enumerate(expected.fits):
        words = f"Fits with {fit.verdict.experts_on_cpu} layers' experts on the CPU"
        assert fit.verdict.label == words and model.index(row, COL_FIT).data() == VERDICT_WORDS[VerdictKind.EXPERTS_CPU]
        assert words in model.index(row, COL_FIT).data(Qt.ItemDataRole.ToolTipRole)
        assert model.index(row, COL_MAX_CTX).data() == context_words(fit.verdict.max_ctx) != "–"
    assert "experts of" in page.detail.reason.text()
    assert page.grab().save(str(tmp_path / "discover-moe.png"))


def test_context_changes_verdicts(qtbot: Any, page: DiscoverPage) -> None:
    search(qtbot, page, "fake")
    select(qtbot, page, LADDER_REPO)
    with qtbot.waitSignal(page.detail.fit_ready, timeout=10_000, check_params_cb=lambda fit: fit.n_ctx == 131072):
        page.detail.ctx_spin.setValue(131072)
    model = page.detail.model
    kinds = {model.fit(r).verdict.kind for r in range(model.rowCount())}  # type: ignore[union-attr]
    assert kinds == {VerdictKind.WONT_FIT}
    assert model.recommended_row() is None and "Nothing fits" in page.detail.reason.text()


def test_split_set_is_one_row(qtbot: Any, page: DiscoverPage, fake_hub: FakeHub, downloads: RecordingDownloads) -> None:
    search(qtbot, page, "fake")
    select(qtbot, page, SPLIT_REPO)
    model = page.detail.model
    row = [model.quant(r).label for r in range(model.rowCount())].index("Q4_K_M")
    q = model.quant(row)
    assert model.index(row, COL_QUANT).data().endswith("(3 parts)")
    assert q.size == sum(fake_hub.repo(SPLIT_REPO).files[p].size for p in q.paths)
    button = page.detail.table.indexWidget(model.index(row, COL_DOWNLOAD))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert downloads.calls == [(SPLIT_REPO, list(q.paths))] and len(q.paths) == 3


def test_gated_repo_links_to_the_license(qtbot: Any, page: DiscoverPage) -> None:
    search(qtbot, page, "fake")
    ids = [r.repo_id for r in page.results_model.results()]
    with qtbot.waitSignal(page.detail.detail_loaded, timeout=10_000):
        page.results_view.selectRow(ids.index(GATED_REPO))
    qtbot.waitUntil(lambda: "no header read" in page.detail.reason.text() and page.detail.denied, timeout=10_000)
    notice = page.detail.notice.text()
    assert f"/{GATED_REPO}" in notice and "<a href" in notice
    assert page.detail.model.rowCount() == 2


def test_paging_on_scroll(qtbot: Any, page: DiscoverPage, fake_hub: FakeHub) -> None:
    assert page.results_model.rowCount() == 30
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.results_view.scrollToBottom()
    assert page.results_model.rowCount() == N_FILLER + 4
    assert not page.results_model.has_more


@pytest.mark.parametrize(("fault", "text"), [("server", "problem (503)"), ("rate", "rate limiting")])
def test_errors_shown_in_place(qtbot: Any, page: DiscoverPage, fake_hub: FakeHub, fault: str, text: str) -> None:
    if fault == "server":
        fake_hub.fail_next(1, 503, match="/api/models")
    else:
        fake_hub.rate_limit(1, retry_after=30, match="/api/models")
    with qtbot.waitSignal(page.search_failed, timeout=10_000):
        page.search_box.setText("fake")
    assert text in page.status.text() and RETRY in page.status.text()
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.status.linkActivated.emit(RETRY)  # the user clicks "Retry"
    assert page.results_model.rowCount() == 3


def test_offline(qtbot: Any, page: DiscoverPage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with qtbot.waitSignal(page.search_failed, timeout=10_000):
        page.search_box.setText("fake")
    assert "offline" in page.status.text()


def test_download_button_queues_in_the_real_manager_and_the_file_arrives_verified(
    qtbot: Any, fake_hub: FakeHub
) -> None:
    """No test double: Discover creates the app's download queue on first use and the file lands verified."""
    import hashlib

    from app.downloads.items import ItemState
    from tests.fakehub import TINY_REPO

    ctx = AppContext.create(Settings(), hardware=FixedHardware(small_machine()))
    page = DiscoverPage(ctx)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.show()
    select(qtbot, page, TINY_REPO)
    quant = page.detail.model.quant(0)
    button = page.detail.table.indexWidget(page.detail.model.index(0, COL_DOWNLOAD))
    assert isinstance(button, QPushButton) and button.isEnabled()
    assert not ctx.downloads.started  # looking at a repository does not start the queue; Download does
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    service = ctx.downloads
    assert service.started
    try:
        qtbot.waitUntil(lambda: any(i.state is ItemState.DONE for i in service.items()), timeout=60_000)
        (item,) = service.items()
        target = item.targets()[0]
        assert target.is_file() and not target.with_name(target.name + ".part").exists()
        assert target.is_relative_to(ctx.settings.models_path() / TINY_REPO)
        assert hashlib.sha256(target.read_bytes()).hexdigest() == quant.first.sha256
    finally:
        service.shutdown()


class LateHardware(HardwareWatch):
    """No hardware info until the test says so (as while the real probe runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.late: HardwareInfo | None = None

    @property
    def info(self) -> HardwareInfo | None:
        return self.late


def test_verdicts_wait_for_the_hardware_probe(qtbot: Any, fake_hub: FakeHub) -> None:
    hardware = LateHardware()
    page = DiscoverPage(AppContext.create(Settings(), hardware=hardware))
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.show()
    search(qtbot, page, "fake")
    with qtbot.waitSignal(page.detail.detail_loaded, timeout=10_000):
        page.results_view.selectRow(0)
    model = page.detail.model
    assert model.index(0, COL_FIT).data() == "…" and "Detecting" in page.detail.machine.text()
    hardware.late = small_machine()
    with qtbot.waitSignal(page.detail.fit_ready, timeout=10_000):
        hardware.ready.emit(hardware.late)
    assert model.fit(0) is not None and "This machine" in page.detail.machine.text()


def test_ladder_bands_follow_the_verdicts(qtbot: Any) -> None:
    from app.ui.widgets.quant_ladder import LadderPoint, QuantLadder, expected_quality

    ladder = QuantLadder()
    qtbot.addWidget(ladder)
    ladder.set_points(
        [
            LadderPoint("Q2_K", 100, 2.6, VerdictKind.FULL_GPU, False),
            LadderPoint("Q4_K_M", 200, 4.9, VerdictKind.FULL_GPU, True),
            LadderPoint("Q8_0", 400, 8.5, VerdictKind.PARTIAL, False),
            LadderPoint("F16", 800, 16.0, VerdictKind.WONT_FIT, False),
        ]
    )
    assert ladder.band_edges() == (300.0, 600.0)
    assert expected_quality(2.6) < expected_quality(4.9) < expected_quality(8.5) < 100.0
    ladder.resize(500, 220)
    image = ladder.grab().toImage()
    assert len({image.pixel(x, 110) for x in range(0, 500, 5)}) > 3  # bands and points were painted


def test_failed_page_is_retried_only_on_request(qtbot: Any, page: DiscoverPage, fake_hub: FakeHub) -> None:
    fake_hub.fail_next(1, 502, match="/api/models")
    with qtbot.waitSignal(page.search_failed, timeout=10_000):
        page.results_view.scrollToBottom()
    assert page.results_model.rowCount() == 30 and not page.results_model.canFetchMore(page.results_view.rootIndex())
    with qtbot.waitSignal(page.results_loaded, timeout=10_000):
        page.status.linkActivated.emit(RETRY)
    assert page.results_model.rowCount() == N_FILLER + 4


def test_the_page_prepares_its_next_steps_in_a_worker_after_its_first_paint(qtbot: Any, page: DiscoverPage) -> None:
    """The fixture showed the page and waited for the first results: by then the warm-up task has started."""
    qtbot.waitUntil(lambda: page._warm is not None and page._warm.done, timeout=30_000)


def test_warm_up_imports_what_the_detail_the_header_and_a_download_need(fake_hub: FakeHub) -> None:
    import sys

    from app.ui.pages.discover_tasks import WARM_MODULES, warm_up
    from app.ui.tasks import TaskControl

    warm_up(TaskControl(lambda _value: None))  # a renamed module would raise here (the page only logs it)
    assert all(name in sys.modules for name in WARM_MODULES)
