"""The same files asked for twice never make a second queue item, whoever asks: the rule lives in the manager."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.downloads.items import DownloadEvent, ItemRemoved, ItemState
from app.downloads.manager import DownloadManager
from app.downloads.store import QueueStore
from tests.fakehub import TINY_REPO, FakeHub

TINY_FILE = "Tiny-Llama-F32.gguf"


@pytest.fixture
def manager(fake_hub: FakeHub, tmp_path: Path) -> Iterator[DownloadManager]:
    m = DownloadManager(lambda: tmp_path / "models", store=QueueStore(tmp_path / "queue.json"))
    m.start()
    yield m
    m.shutdown()


def _state(manager: DownloadManager, item_id: str) -> ItemState:
    item = manager.get(item_id)
    assert item is not None
    return item.state


def test_asking_again_returns_the_item_in_every_state(manager: DownloadManager, fake_hub: FakeHub) -> None:
    events: list[DownloadEvent] = []
    manager.subscribe(events.append)
    fake_hub.stall(50_000, seconds=30, match=TINY_FILE)
    first = manager.enqueue(TINY_REPO, [TINY_FILE])
    assert manager.enqueue(TINY_REPO, [TINY_FILE]).id == first.id  # queued or running: the same item
    manager.cancel(first.id)
    assert _wait(lambda: _state(manager, first.id) == ItemState.CANCELLED)

    fake_hub.clear_faults()
    again = manager.enqueue(TINY_REPO, [TINY_FILE])  # cancelled: retried, not added
    assert again.id == first.id and again.state == ItemState.QUEUED
    assert manager.wait_idle(30) and _state(manager, first.id) == ItemState.DONE
    assert manager.enqueue(TINY_REPO, [TINY_FILE]).id == first.id  # done, file in place: nothing to do
    assert [i.id for i in manager.items()] == [first.id]

    done = manager.get(first.id)
    assert done is not None
    done.targets()[0].unlink()  # the file went away: a new item replaces the finished one
    replaced = manager.enqueue(TINY_REPO, [TINY_FILE])
    assert replaced.id != first.id and [i.id for i in manager.items()] == [replaced.id]
    assert ItemRemoved(first.id) in events
    assert manager.wait_idle(30) and _state(manager, replaced.id) == ItemState.DONE
    assert done.targets()[0].is_file()


def _wait(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
