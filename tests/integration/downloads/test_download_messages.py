"""Failures a user can act on: a CDN 404 or 403 names the file and never blames a token that was not sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.downloads.items import DownloadItem, ItemState
from app.downloads.job import DownloadConfig, RetryPolicy
from app.downloads.manager import DownloadManager
from app.downloads.store import QueueStore
from app.downloads.transfer import Timeouts
from tests.fakehub import TINY_REPO, FakeHub

TINY_FILE = "Tiny-Llama-F32.gguf"
FAST = DownloadConfig(
    retry=RetryPolicy(max_attempts=2, base_delay=0.05, max_delay=0.1),
    timeouts=Timeouts(connect=5, stall=2),
    disk_margin=0,
)


@pytest.fixture
def manager(fake_hub: FakeHub, tmp_path: Path) -> Iterator[DownloadManager]:
    m = DownloadManager(lambda: tmp_path / "models", store=QueueStore(tmp_path / "queue.json"), config=FAST)
    m.start()
    yield m
    m.shutdown()


def _fail(manager: DownloadManager) -> DownloadItem:
    item = manager.enqueue(TINY_REPO, [TINY_FILE])
    assert manager.wait_idle(timeout=60)
    result = manager.get(item.id)
    assert result is not None and result.state == ItemState.FAILED
    return result


def test_a_cdn_404_names_the_file_not_just_the_repo(manager: DownloadManager, fake_hub: FakeHub) -> None:
    fake_hub.fail_next(1, status=404, match="cdn-lfs")
    item = _fail(manager)
    assert TINY_FILE in (item.error or ""), item.error
    assert "Not found on the Hub" not in (item.error or "")


def test_a_cdn_403_without_a_token_does_not_blame_the_token(manager: DownloadManager, fake_hub: FakeHub) -> None:
    fake_hub.fail_next(1, status=403, match="cdn-lfs")
    item = _fail(manager)
    error = item.error or ""
    assert TINY_FILE in error, error
    assert "your token" not in error.lower()
    assert "no token was sent" in error.lower() or "without a token" in error.lower()


def test_a_hub_403_with_a_token_names_the_token_and_the_file(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_token("hf_alice", user="alice")
    config = DownloadConfig(retry=FAST.retry, timeouts=FAST.timeouts, disk_margin=0, token="hf_alice")
    manager = DownloadManager(lambda: tmp_path / "models", store=QueueStore(tmp_path / "q.json"), config=config)
    manager.start()
    fake_hub.fail_next(1, status=403, match=TINY_FILE)  # the first request: the file's metadata, at the Hub
    try:
        item = _fail(manager)
    finally:
        manager.shutdown()
    error = item.error or ""
    assert TINY_FILE in error and "your token may not download" in error.lower(), error
