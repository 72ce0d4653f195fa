"""The Downloads page against the fake Hub: rows, progress, notifications, errors in place, actions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from app.core.settings import Settings
from app.downloads.items import DownloadItem, ItemState
from app.ui.context import AppContext
from app.ui.messages import message_bridge
from app.ui.models.download_table import COL_PROGRESS, COL_STATUS
from app.ui.pages import downloads as downloads_page
from app.ui.pages.downloads import DownloadsPage
from tests.fakehub import GATED_REPO, TINY_REPO, FakeHub

TINY_FILE = "Tiny-Llama-F32.gguf"


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
    qtbot: Any, page: DownloadsPage, ctx: AppContext, fake_hub: FakeHub
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
