"""The Downloads page against the fake Hub: rows, progress, notifications, errors in place, actions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.core.settings import Settings
from app.downloads.items import DownloadItem, ItemProgress, ItemState, SegmentProgress
from app.downloads.segments import Board
from app.ui.context import AppContext
from app.ui.messages import message_bridge
from app.ui.models.download_table import COL_PROGRESS, COL_STATUS
from app.ui.pages import downloads as downloads_page
from app.ui.pages.downloads import DownloadsPage
from app.ui.pages.downloads_pieces import piece_spans
from tests.fakehub import GATED_REPO, LADDER_REPO, TINY_REPO, FakeHub

TINY_FILE = "Tiny-Llama-F32.gguf"
MIB = 1024**2


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "models"))
    context = AppContext.create(settings)
    yield context
    context.shutdown()


@pytest.fixture
def page(qtbot: Any, ctx: AppContext, fake_hub: FakeHub) -> DownloadsPage:
    widget = DownloadsPage(ctx)
    qtbot.addWidget(widget)
    widget.resize(1100, 420)
    widget.show()
    return widget


def _wait_state(qtbot: Any, page: DownloadsPage, item: DownloadItem, state: ItemState) -> DownloadItem:
    def reached() -> None:
        row = page.model.row_of(item.id)
        assert row is not None and page.model.item(row).state == state

    qtbot.waitUntil(reached, timeout=30_000)
    row = page.model.row_of(item.id)
    assert row is not None
    return page.model.item(row)


def test_discover_enqueue_downloads_and_notifies(
    qtbot: Any, page: DownloadsPage, ctx: AppContext, qtmodeltester: Any, tmp_path: Path
) -> None:
    assert ctx.downloads is page.service  # the Discover page's entry point
    messages: list[tuple[str, str]] = []
    message_bridge().shown.connect(lambda level, text: messages.append((level, text)))
    with qtbot.waitSignal(page.service.completed, timeout=30_000) as done:
        item = ctx.downloads.enqueue(TINY_REPO, [TINY_FILE])
        assert item is not None
    finished: DownloadItem = done.args[0]
    assert finished.id == item.id and finished.state == ItemState.DONE
    _wait_state(qtbot, page, item, ItemState.DONE)
    row = page.model.row_of(item.id)
    assert row is not None
    assert page.model.index(row, COL_PROGRESS).data() == "100%"
    assert page.model.index(row, COL_STATUS).data() == "Done"
    assert (tmp_path / "models" / "tiny" / "Tiny-Llama-GGUF" / TINY_FILE).is_file()
    assert ("info", f"Downloaded and verified {TINY_FILE}") in messages
    qtmodeltester.check(page.model)

    page.select(item.id)
    assert page.remove_action.isEnabled() and not page.pause_action.isEnabled()
    assert page.clear_action.isEnabled()
    page.clear_action.trigger()
    qtbot.waitUntil(lambda: page.model.rowCount() == 0)
    assert page.empty.isVisible()


def test_failure_shows_in_place_with_the_license_link(
    qtbot: Any, page: DownloadsPage, ctx: AppContext, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = next(n for n in fake_hub.repo(GATED_REPO).files if n.endswith(".gguf"))
    item = ctx.downloads.enqueue(GATED_REPO, [name])
    assert item is not None
    failed = _wait_state(qtbot, page, item, ItemState.FAILED)
    row = page.model.row_of(item.id)
    assert row is not None
    status = page.model.index(row, COL_STATUS).data()
    assert status.startswith("Failed:") and "gated" in status
    page.select(item.id)
    assert page.details.isVisible()
    assert f'href="{fake_hub.url}/{GATED_REPO}"' in page.details.text()
    assert page.retry_action.isEnabled() and not page.cancel_action.isEnabled()
    assert failed.error_kind == "GatedRepoError"
    buttons = page.row_actions(item.id)
    assert buttons is not None and (buttons.primary.text(), buttons.secondary.text()) == ("Request access", "Retry")
    opened: list[str] = []
    monkeypatch.setattr(downloads_page, "open_url", lambda url: opened.append(url) or True)
    qtbot.mouseClick(buttons.primary, Qt.MouseButton.LeftButton)
    assert opened == [f"{fake_hub.url}/{GATED_REPO}"]


def test_pause_resume_and_reveal(
    qtbot: Any,
    page: DownloadsPage,
    ctx: AppContext,
    fake_hub: FakeHub,
    monkeypatch: pytest.MonkeyPatch,
    qtmodeltester: Any,
    tmp_path: Path,
) -> None:
    opened: list[Path] = []

    def record(path: Path) -> bool:
        opened.append(path)
        return True

    monkeypatch.setattr(downloads_page, "open_folder", record)
    fake_hub.stall(100_000, seconds=30, match=TINY_FILE)
    item = ctx.downloads.enqueue(TINY_REPO, [TINY_FILE])
    assert item is not None
    part = tmp_path / "models" / "tiny" / "Tiny-Llama-GGUF" / (TINY_FILE + ".part")
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size == 100_000, timeout=30_000)
    # The readout keeps moving while the stream is stalled: progress events still arrive.
    with qtbot.waitSignal(page.service.progress, timeout=5_000):
        pass
    page.select(item.id)
    assert page.pause_action.isEnabled()
    page.pause_action.trigger()
    paused = _wait_state(qtbot, page, item, ItemState.PAUSED)
    assert paused.total_bytes == fake_hub.repo(TINY_REPO).files[TINY_FILE].content.size
    row = page.model.row_of(item.id)
    assert row is not None
    assert page.model.index(row, COL_PROGRESS).data() == f"{100 * 100_000 / paused.total_bytes:.0f}%"
    assert page.resume_action.isEnabled()
    qtmodeltester.check(page.model)
    page.reveal_action.trigger()
    assert opened == [part.parent]
    fake_hub.clear_faults()
    page.resume_action.trigger()
    _wait_state(qtbot, page, item, ItemState.DONE)
    ranges = [r.range for r in fake_hub.requests_for(TINY_FILE, method="GET") if r.server == "cdn"]
    assert ranges == [None, "bytes=100000-"]
    page.grab().save(str(tmp_path / "downloads.png"))
    QApplication.processEvents()


def _distance(a: QColor, b: QColor) -> int:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue())


def test_progress_bars_fill_from_the_left_at_full_height(page: DownloadsPage, tmp_path: Path) -> None:
    """#16 item 4: at 48% the left part of the bar is filled top to bottom, the right part is empty."""
    item = DownloadItem(
        id="f" * 32,
        repo_id=TINY_REPO,
        filenames=(TINY_FILE,),
        revision="main",
        models_dir=str(tmp_path / "models"),
        state=ItemState.PAUSED,
        total_bytes=1000,
    )
    page.model.upsert(item)
    page.model.set_progress(ItemProgress(item.id, 480, 1000, 0.0, None))
    rect = page.table.visualRect(page.model.index(0, COL_PROGRESS))
    image = page.table.viewport().grab(rect).toImage()
    highlight = page.table.palette().color(QPalette.ColorRole.Highlight)
    w, h = image.width(), image.height()
    for y in (int(h * 0.3), int(h * 0.5), int(h * 0.7)):
        filled, empty = image.pixelColor(int(w * 0.15), y), image.pixelColor(int(w * 0.85), y)
        assert _distance(filled, highlight) < 90, (y, filled.name(), highlight.name())
        assert _distance(empty, highlight) > 150, (y, empty.name())
    image.save(str(tmp_path / "bar.png"))


def test_each_row_has_its_own_pause_resume_cancel_and_load_in_chat(
    qtbot: Any, tmp_path: Path, fake_hub: FakeHub
) -> None:
    """#16 item 4: the buttons at the end of a row act on that row, and a finished model opens in Chat."""
    opened: list[tuple[str, dict[str, Any]]] = []
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "models"))
    ctx = AppContext.create(settings, navigate=lambda name, **kw: opened.append((name, kw)))
    page = DownloadsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1300, 420)
    page.show()
    try:
        fake_hub.stall(100_000, seconds=30, match=TINY_FILE)
        tiny = ctx.downloads.enqueue(TINY_REPO, [TINY_FILE])
        other = next(n for n in fake_hub.repo(LADDER_REPO).files if n.endswith(".gguf"))
        fake_hub.stall(50_000, seconds=30, match=other)
        ladder = ctx.downloads.enqueue(LADDER_REPO, [other])
        _wait_state(qtbot, page, tiny, ItemState.RUNNING)
        _wait_state(qtbot, page, ladder, ItemState.RUNNING)
        tiny_buttons, ladder_buttons = page.row_actions(tiny.id), page.row_actions(ladder.id)
        assert tiny_buttons is not None and ladder_buttons is not None
        assert (tiny_buttons.primary.text(), tiny_buttons.secondary.text()) == ("Pause", "Cancel")
        assert tiny_buttons.isVisible()

        qtbot.mouseClick(tiny_buttons.primary, Qt.MouseButton.LeftButton)
        _wait_state(qtbot, page, tiny, ItemState.PAUSED)
        assert tiny_buttons.primary.text() == "Resume"
        assert page.model.item(page.model.row_of(ladder.id) or 0).state == ItemState.RUNNING  # only that row

        qtbot.mouseClick(ladder_buttons.secondary, Qt.MouseButton.LeftButton)  # Cancel
        _wait_state(qtbot, page, ladder, ItemState.CANCELLED)
        assert (ladder_buttons.primary.text(), ladder_buttons.secondary.text()) == ("Retry", "Remove")
        qtbot.mouseClick(ladder_buttons.secondary, Qt.MouseButton.LeftButton)  # Remove
        qtbot.waitUntil(lambda: page.model.row_of(ladder.id) is None, timeout=10_000)

        fake_hub.clear_faults()
        qtbot.mouseClick(tiny_buttons.primary, Qt.MouseButton.LeftButton)  # Resume
        done = _wait_state(qtbot, page, tiny, ItemState.DONE)
        assert tiny_buttons.primary.text() == "Load in Chat"
        qtbot.mouseClick(tiny_buttons.primary, Qt.MouseButton.LeftButton)
        assert opened == [("chat", {"model": str(done.targets()[0])})]
        assert done.targets()[0].is_file()
        page.grab().save(str(tmp_path / "downloads-rows.png"))
    finally:
        ctx.shutdown()


def test_a_segmented_download_shows_its_connections_on_demand(page: DownloadsPage, tmp_path: Path) -> None:
    """The bar stays one bar; hovering it lists the ranged connections (#22's segments)."""
    item = DownloadItem(
        id="e" * 32,
        repo_id=TINY_REPO,
        filenames=(TINY_FILE,),
        revision="main",
        models_dir=str(tmp_path / "models"),
        state=ItemState.PAUSED,
        total_bytes=4 * MIB,
    )
    page.model.upsert(item)
    index = page.model.index(0, COL_PROGRESS)
    assert index.data(Qt.ItemDataRole.ToolTipRole) is None  # a single stream: nothing more to say
    segments = (
        SegmentProgress(0, 0, 2 * MIB, 2 * MIB, 0.0, "done"),
        SegmentProgress(1, 2 * MIB, 4 * MIB, MIB // 2, 3 * MIB, "active"),
    )
    page.model.set_progress(ItemProgress(item.id, 2 * MIB + MIB // 2, 4 * MIB, 3 * MIB, 1.0, "", segments))
    tip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert tip.splitlines()[0] == "1 connection, 1 of 2 pieces done"
    assert "#1" not in tip and "#2" in tip and "25% active" in tip  # finished pieces are only counted


def _running_item(tmp_path: Path, letter: str, total: int) -> DownloadItem:
    return DownloadItem(
        id=letter * 32,
        repo_id=TINY_REPO,
        filenames=(TINY_FILE,),
        revision="main",
        models_dir=str(tmp_path / "models"),
        state=ItemState.RUNNING,
        total_bytes=total,
    )


PIECES = (  # 8 MiB in four pieces: on disk, half fetched, waiting to retry, not started
    SegmentProgress(0, 0, 2 * MIB, 2 * MIB, 0.0, "done"),
    SegmentProgress(1, 2 * MIB, 4 * MIB, MIB, 3 * MIB, "active"),
    SegmentProgress(2, 4 * MIB, 6 * MIB, 0, 0.0, "retrying"),
    SegmentProgress(3, 6 * MIB, 8 * MIB, 0, 0.0, "waiting"),
)


def test_piece_spans_sort_the_file_by_what_happens_to_each_range() -> None:
    spans = piece_spans(8 * MIB, PIECES)
    assert spans.done == ((0, 3 * MIB),)
    assert spans.fetching == ((3 * MIB, 4 * MIB),)
    assert spans.retrying == ((4 * MIB, 6 * MIB),)
    assert spans.missing == ((6 * MIB, 8 * MIB),)


def test_the_map_of_a_download_whose_requests_take_runs_of_pieces_covers_the_file_once() -> None:
    """On a fast link one request takes a run of pieces: the map shows the runs' bytes where they are."""
    board = Board(8 * MIB, [(3 * MIB, 3 * MIB + 10)], 2, min_steal=MIB, idle_steal=60.0, piece=MIB)
    board.set_limit(2)
    board.merge_runs()
    front, back = board.take(0), board.take(1)
    assert front is not None and back is not None and (front.end, back.end) == (3 * MIB, 8 * MIB)
    board.advance(front, board.reserve(front, MIB))
    board.advance(back, board.reserve(back, 2 * MIB))
    board.mark(back, "retrying")
    spans = piece_spans(8 * MIB, board.snapshot())
    assert spans.done == ((0, MIB), (3 * MIB, 5 * MIB + 10))
    assert spans.fetching == ((MIB, 3 * MIB),)
    assert spans.retrying == ((5 * MIB + 10, 8 * MIB),)
    assert spans.missing == ()


def test_the_selected_download_shows_a_map_of_its_pieces(qtbot: Any, page: DownloadsPage, tmp_path: Path) -> None:
    """#22: on demand (the selected row), the file as a bar: on disk, being fetched, retrying, still to come."""
    item, other = _running_item(tmp_path, "a", 8 * MIB), _running_item(tmp_path, "b", 8 * MIB)
    page.model.upsert(item)
    page.model.upsert(other)
    page.select(item.id)
    assert page.pieces.isHidden()  # nothing about segments yet
    page.service.progress.emit(ItemProgress(item.id, 3 * MIB, 8 * MIB, 3 * MIB, 2.0, "", PIECES))
    assert page.pieces.isVisible()
    assert page.pieces.caption.text().startswith(f"{TINY_FILE}: 2 connections, 1 of 4 pieces done, 3.0 MiB of 8.0")
    page.service.progress.emit(ItemProgress(other.id, 0, 8 * MIB, 0.0, None, "", PIECES[3:]))
    assert "1 of 4 pieces" in page.pieces.caption.text()  # another row's ticks leave the map alone

    bar = page.pieces.map
    image = bar.grab().toImage()
    w, y = image.width(), image.height() // 2
    highlight = bar.palette().color(QPalette.ColorRole.Highlight)
    base = bar.palette().color(QPalette.ColorRole.Base)
    colour = {frac: image.pixelColor(int(w * frac), y) for frac in (0.2, 0.45, 0.6, 0.9)}
    assert _distance(colour[0.2], highlight) < 40  # on disk
    assert _distance(colour[0.45], highlight) > 60 and _distance(colour[0.45], base) > 30  # being fetched
    assert colour[0.6].red() > colour[0.6].blue() + 60  # amber: waiting to retry
    assert _distance(colour[0.9], base) < 20  # still to come
    page.grab().save(str(tmp_path / "downloads-pieces.png"))

    page.select(other.id)  # the map follows the selection
    assert page.pieces.isVisible() and "0 of 1 pieces done" in page.pieces.caption.text()
    page.select(item.id)
    assert "1 of 4 pieces done" in page.pieces.caption.text()
    page.service.progress.emit(ItemProgress(item.id, 8 * MIB, 8 * MIB, 0.0, 0.0))  # finished: one bar again
    assert page.pieces.isHidden()


def test_progress_ticks_repaint_cells_but_leave_buttons_and_actions_alone(
    page: DownloadsPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GUI thread's work per tick is the repaint: every Python slot it runs waits for the GIL, which eight
    download threads hold often (the event-loop stall of #22)."""
    from app.ui.pages.downloads_row import RowActions

    item = _running_item(tmp_path, "c", 8 * MIB)
    page.service.item_changed.emit(item)
    page.select(item.id)
    calls: list[str] = []
    set_item, show_details = RowActions.set_item, DownloadsPage._show_details
    monkeypatch.setattr(RowActions, "set_item", lambda self, i: (calls.append("row"), set_item(self, i))[1])
    monkeypatch.setattr(
        DownloadsPage, "_show_details", lambda self, i: (calls.append("actions"), show_details(self, i))[1]
    )
    for done in range(1, 41):
        page.service.progress.emit(ItemProgress(item.id, done * 100_000, 8 * MIB, 1e6, 1.0, "", PIECES))
    assert calls == []
    assert page.model.progress_of(item.id).done_bytes == 4_000_000  # yet every tick reached the model
    page.service.item_changed.emit(item.with_(state=ItemState.PAUSED))
    assert "row" in calls and "actions" in calls  # a state change does update them
    assert page.row_actions(item.id).primary.text() == "Resume"


def test_a_paused_download_shows_the_pieces_it_has_on_disk(qtbot: Any, ctx: AppContext, tmp_path: Path) -> None:
    """The map of a paused (or restarted) item comes from its part's record of done ranges."""
    from app.downloads import ranges
    from app.downloads.checksum import Checksum
    from app.downloads.layout import part_path
    from app.downloads.store import QueueStore

    item = _running_item(tmp_path, "d", 8 * MIB).with_(state=ItemState.PAUSED)
    QueueStore().save([item], 1)  # as an earlier run left the queue
    part = part_path(item.targets()[0])
    part.parent.mkdir(parents=True)
    part.write_bytes(b"")
    ranges.save(part, 8 * MIB, Checksum("sha256", "ab" * 32), [(0, 2 * MIB), (4 * MIB, 5 * MIB)])
    page = DownloadsPage(ctx)
    qtbot.addWidget(page)
    page.show()
    page.select(item.id)
    assert page.pieces.isVisible()
    assert "0 connections, 2 of 4 pieces done, 3.0 MiB of 8.0 MiB" in page.pieces.caption.text()
    spans = page.pieces.map.spans
    assert spans.done == ((0, 2 * MIB), (4 * MIB, 5 * MIB))
    assert spans.missing == ((2 * MIB, 4 * MIB), (5 * MIB, 8 * MIB))


def test_a_new_models_folder_in_settings_takes_the_waiting_downloads_with_it(
    qtbot: Any, fake_hub: FakeHub, tmp_path: Path
) -> None:
    """A queued download goes to the folder Settings names now; the running one keeps its folder until it lands."""
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "old"), download_parallel=1)
    ctx = AppContext.create(settings)
    try:
        fake_hub.stall(100_000, seconds=30, match=TINY_FILE)
        running = ctx.downloads.enqueue(TINY_REPO, [TINY_FILE])
        other = next(n for n in fake_hub.repo(LADDER_REPO).files if n.endswith(".gguf"))
        waiting = ctx.downloads.enqueue(LADDER_REPO, [other])
        manager = ctx.downloads.manager
        qtbot.waitUntil(lambda: (manager.get(running.id) or running).state == ItemState.RUNNING, timeout=10_000)
        assert (manager.get(waiting.id) or waiting).state == ItemState.QUEUED
        settings.update(models_dir=str(tmp_path / "new"))
        assert (manager.get(waiting.id) or waiting).models_dir == str(tmp_path / "new")
        assert (manager.get(running.id) or running).models_dir == str(tmp_path / "old")
    finally:
        ctx.shutdown()
