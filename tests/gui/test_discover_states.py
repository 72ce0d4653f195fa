"""#16 item 3: Discover remembers what the user did — a quant's row says queued, downloading, in the library or
"request access", and a second click never queues the same files twice (real download queue, fake Hub)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.core.settings import Settings
from app.downloads.items import ItemState
from app.ui.context import AppContext
from app.ui.pages import discover_detail
from app.ui.pages.discover import DiscoverPage
from tests.fakehub import GATED_REPO, TINY_REPO, FakeHub
from tests.gui.test_discover import search, select, small_machine
from tests.support.hardware import FixedHardware

TINY_FILE = "Tiny-Llama-F32.gguf"


@pytest.fixture
def navigated() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def ctx(tmp_path: Path, navigated: list[tuple[str, dict[str, Any]]]) -> Iterator[AppContext]:
    settings = Settings()
    settings.update(models_dir=str(tmp_path / "models"))
    context = AppContext.create(
        settings, hardware=FixedHardware(small_machine()), navigate=lambda name, **kw: navigated.append((name, kw))
    )
    yield context
    context.shutdown()


@pytest.fixture
def page(qtbot: Any, fake_hub: FakeHub, ctx: AppContext) -> DiscoverPage:
    widget = DiscoverPage(ctx)
    qtbot.addWidget(widget)
    widget.resize(1440, 860)
    with qtbot.waitSignal(widget.results_loaded, timeout=10_000):
        widget.show()
    return widget


def test_a_quant_row_follows_its_download_and_never_queues_twice(
    qtbot: Any, page: DiscoverPage, ctx: AppContext, fake_hub: FakeHub, navigated: list[Any], tmp_path: Path
) -> None:
    select(qtbot, page, TINY_REPO)
    button = page.detail.button(page.detail.model.quant(0).label)
    assert button.text() == "Download"
    fake_hub.stall(100_000, seconds=30, match=TINY_FILE)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: button.text().startswith("↓"), timeout=10_000)
    (item,) = ctx.downloads.items()
    qtbot.waitUntil(lambda: button.text().endswith("%"), timeout=10_000)  # the progress shows in the row
    assert page.local_state(TINY_REPO) == "downloading"  # and the results list says so beside the repository

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # a second click opens the download, queues nothing
    assert [i.id for i in ctx.downloads.items()] == [item.id]
    assert navigated == [("downloads", {"item_id": item.id})]
    assert ctx.downloads.enqueue(TINY_REPO, [TINY_FILE]).id == item.id  # the queue's own guard

    ctx.downloads.pause(item.id)
    qtbot.waitUntil(lambda: button.text().startswith("Paused"), timeout=10_000)
    fake_hub.clear_faults()
    ctx.downloads.resume(item.id)
    qtbot.waitUntil(lambda: button.text() == "Open in Chat", timeout=30_000)
    target = tmp_path / "models" / "tiny" / "Tiny-Llama-GGUF" / TINY_FILE
    assert target.is_file()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert navigated[-1] == ("chat", {"model": str(target)})
    qtbot.waitUntil(lambda: page.local_state(TINY_REPO) == "in your library", timeout=10_000)
    # a finished download asked for again is the same row, not a new one
    assert ctx.downloads.enqueue(TINY_REPO, [TINY_FILE]).id == item.id and len(ctx.downloads.items()) == 1
    page.grab().save(str(tmp_path / "discover-open-in-chat.png"))


def test_a_quant_in_the_models_folder_opens_in_chat_before_the_queue_starts(
    qtbot: Any, page: DiscoverPage, ctx: AppContext, fake_hub: FakeHub
) -> None:
    target = ctx.settings.models_path() / TINY_REPO / TINY_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(fake_hub.repo(TINY_REPO).files[TINY_FILE].content.read_all())
    with qtbot.waitSignal(page.library.changed, timeout=10_000):
        page.library.refresh()
    select(qtbot, page, TINY_REPO)
    assert page.detail.button(page.detail.model.quant(0).label).text() == "Open in Chat"
    assert not ctx.downloads.started  # looking never starts the queue


def test_a_quant_row_asks_the_library_scan_not_the_disk(
    qtbot: Any, page: DiscoverPage, ctx: AppContext, fake_hub: FakeHub
) -> None:
    """A quant row's "Open in Chat" comes from the library scan (made in a worker), never from a look at the
    disk on the GUI thread: a file that appears later counts once the library is scanned again."""
    qtbot.waitUntil(lambda: page.library.presence is not None, timeout=10_000)
    target = ctx.settings.models_path() / TINY_REPO / TINY_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(fake_hub.repo(TINY_REPO).files[TINY_FILE].content.read_all())
    select(qtbot, page, TINY_REPO)
    button = page.detail.button(page.detail.model.quant(0).label)
    assert button.text() == "Download"  # not scanned yet: the disk was not looked at
    with qtbot.waitSignal(page.library.changed, timeout=10_000):
        page.library.refresh()
    assert button.text() == "Open in Chat"
    assert button.state.model_path == target
    assert not ctx.downloads.started


def test_a_failed_download_offers_retry_on_the_same_row(
    qtbot: Any, page: DiscoverPage, ctx: AppContext, fake_hub: FakeHub
) -> None:
    select(qtbot, page, TINY_REPO)
    button = page.detail.button(page.detail.model.quant(0).label)
    fake_hub.fail_next(10, 404, match=TINY_FILE)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: button.text() == "Retry", timeout=30_000)
    (item,) = ctx.downloads.items()
    assert item.state == ItemState.FAILED
    fake_hub.clear_faults()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: button.text() == "Open in Chat", timeout=30_000)
    assert [i.id for i in ctx.downloads.items()] == [item.id]  # retried in place, no second row


def test_a_gated_repository_offers_request_access_instead_of_download(
    qtbot: Any, page: DiscoverPage, ctx: AppContext, monkeypatch: pytest.MonkeyPatch, fake_hub: FakeHub
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(discover_detail, "open_url", lambda url: opened.append(url) or True)
    search(qtbot, page, "fake")
    ids = [r.repo_id for r in page.results_model.results()]
    with qtbot.waitSignal(page.detail.detail_loaded, timeout=10_000):
        page.results_view.selectRow(ids.index(GATED_REPO))
    qtbot.waitUntil(lambda: page.detail.denied, timeout=10_000)
    texts = {b.text() for b in page.detail.buttons}
    assert texts == {"Request access"}
    qtbot.mouseClick(page.detail.buttons[0], Qt.MouseButton.LeftButton)
    assert opened == [f"{fake_hub.url}/{GATED_REPO}"]
    assert not ctx.downloads.started  # nothing was queued to fail
    qtbot.waitUntil(lambda: "Request access" in page.detail.reason.text(), timeout=10_000)


def test_a_note_that_arrives_late_does_not_move_the_quant_table(
    qtbot: Any, page: DiscoverPage, fake_hub: FakeHub
) -> None:
    """#16 item 9: the header read fails after the table is shown (a gated repository): the table stays put."""
    search(qtbot, page, "fake")
    ids = [r.repo_id for r in page.results_model.results()]
    table = page.detail.table
    with qtbot.waitSignal(page.detail.detail_loaded, timeout=10_000):
        page.results_view.selectRow(ids.index(GATED_REPO))
    qtbot.waitUntil(lambda: page.detail.fit is not None, timeout=10_000)
    before = table.mapTo(page, table.rect().topLeft())
    qtbot.waitUntil(lambda: page.detail.denied and "Request access" in page.detail.reason.text(), timeout=10_000)
    QApplication.processEvents()
    assert table.mapTo(page, table.rect().topLeft()) == before


def test_in_your_library_comes_from_the_library_scan_not_the_disk(
    qtbot: Any, page: DiscoverPage, ctx: AppContext, fake_hub: FakeHub
) -> None:
    """The results list asks the library scan's answer (made in a worker) beside each repository; it never looks
    at the disk itself. A file that appears later counts once the library is scanned again."""
    qtbot.waitUntil(lambda: page.library.presence is not None, timeout=10_000)
    assert page.local_state(TINY_REPO) is None
    target = ctx.settings.models_path() / TINY_REPO / TINY_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(fake_hub.repo(TINY_REPO).files[TINY_FILE].content.read_all())
    page._forget_local()
    assert page.local_state(TINY_REPO) is None  # not scanned yet: the disk was not looked at
    with qtbot.waitSignal(page.library.changed, timeout=10_000):
        page.library.refresh()
    assert page.local_state(TINY_REPO) == "in your library"
    assert page.local_state(GATED_REPO) is None
