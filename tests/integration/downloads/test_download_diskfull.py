"""A full disk, for real: a 2 MiB tmpfs (needs root and mount; skipped with the reason otherwise).

The space pre-check is also covered without a mount in tests/unit/downloads/test_download_transfer.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.downloads.items import ItemState
from app.downloads.job import DownloadConfig, RetryPolicy
from app.downloads.manager import DownloadManager
from app.downloads.store import QueueStore
from app.downloads.transfer import Timeouts
from tests.fakehub import TINY_REPO, FakeHub, FakeRepo
from tests.support.tmpfs import fill, small_tmpfs

TINY_FILE = "Tiny-Llama-F32.gguf"
CONFIG = DownloadConfig(
    retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.1),
    timeouts=Timeouts(connect=5, stall=20),
    disk_margin=0,
)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "small", "2m") as mount_point:
        yield mount_point


@pytest.fixture
def manager(fake_hub: FakeHub, small_fs: Path, tmp_path: Path) -> Iterator[DownloadManager]:
    m = DownloadManager(lambda: small_fs / "models", store=QueueStore(tmp_path / "queue.json"), config=CONFIG)
    m.start()
    yield m
    m.shutdown()


def _wait_for(condition: object, timeout: float = 30) -> None:
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():  # type: ignore[operator]
            return
        pause.wait(0.02)
    raise AssertionError("condition not met in time")


def test_precheck_refuses_a_file_larger_than_the_free_space(
    manager: DownloadManager, fake_hub: FakeHub, small_fs: Path
) -> None:
    repo = fake_hub.add_repo(FakeRepo("big/Big-GGUF"))
    repo.add_file("big.gguf", os.urandom(3 * 1024 * 1024))
    item = manager.enqueue("big/Big-GGUF", ["big.gguf"])
    assert manager.wait_idle(60)
    result = manager.get(item.id)
    assert result is not None and result.state == ItemState.FAILED
    assert result.error_kind == "DiskFullError"
    assert "Not enough free space" in (result.error or "")
    assert [r for r in fake_hub.requests_for("big.gguf", method="GET")] == []


@pytest.mark.slow
def test_running_out_mid_transfer_keeps_the_part_and_resumes(
    manager: DownloadManager, fake_hub: FakeHub, small_fs: Path
) -> None:
    fake_hub.stall(100_000, seconds=2, match=TINY_FILE)
    item = manager.enqueue(TINY_REPO, [TINY_FILE])
    folder = small_fs / "models" / "tiny" / "Tiny-Llama-GGUF"
    part = folder / (TINY_FILE + ".part")
    _wait_for(lambda: part.exists() and part.stat().st_size == 100_000)
    filler = fill(small_fs)  # something else takes the space while the download waits
    assert manager.wait_idle(60)
    failed = manager.get(item.id)
    assert failed is not None and failed.state == ItemState.FAILED
    assert failed.error_kind == "DiskFullError"
    assert "disk filled up" in (failed.error or "")
    kept = part.stat().st_size
    assert kept >= 100_000
    assert not (folder / TINY_FILE).exists()

    filler.unlink()
    fake_hub.clear_requests()
    manager.retry(item.id)
    assert manager.wait_idle(60)
    done = manager.get(item.id)
    assert done is not None
    assert done.state == ItemState.DONE, done.error
    gets = [r.range for r in fake_hub.requests_for(TINY_FILE, method="GET") if r.server == "cdn"]
    assert gets == [f"bytes={kept}-"]
    expected = fake_hub.repo(TINY_REPO).files[TINY_FILE].content.sha256
    import hashlib

    assert hashlib.sha256((folder / TINY_FILE).read_bytes()).hexdigest() == expected
