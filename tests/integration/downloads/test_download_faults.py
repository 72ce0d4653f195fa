"""Acceptance: the download manager against the fake Hub with every fault, through the real huggingface_hub.

Each case ends with a verified file or a clear error, and the library never lists an unverified file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.downloads.items import DownloadItem, ItemState
from app.downloads.job import DownloadConfig, RetryPolicy
from app.downloads.manager import DownloadManager
from app.downloads.store import QueueStore
from app.downloads.transfer import Timeouts
from app.library.index import HeaderIndex
from app.library.scan import scan_library
from tests.fakehub import GATED_REPO, TINY_REPO, FakeHub, FakeRepo
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

TINY_FILE = "Tiny-Llama-F32.gguf"
SPLIT_REPO_ID = "splitorg/Tiny-Split-GGUF"
FAST = DownloadConfig(
    retry=RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.2, max_retry_after=2),
    timeouts=Timeouts(connect=5, stall=0.5),
    disk_margin=0,
)


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture
def manager(fake_hub: FakeHub, models: Path, tmp_path: Path) -> Iterator[DownloadManager]:
    m = DownloadManager(lambda: models, store=QueueStore(tmp_path / "queue.json"), config=FAST)
    m.start()
    yield m
    m.shutdown()


def _finish(manager: DownloadManager, item: DownloadItem) -> DownloadItem:
    assert manager.wait_idle(timeout=60), "download did not finish"
    result = manager.get(item.id)
    assert result is not None
    return result


def _hub_sha256(hub: FakeHub, repo_id: str, filename: str) -> str:
    return hub.repo(repo_id).files[filename].content.sha256


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_library_holds_only_verified(hub: FakeHub, models: Path, tmp_path: Path) -> list[Path]:
    entries = scan_library([models], HeaderIndex(tmp_path / "index.sqlite"))
    files: list[Path] = []
    for entry in entries:
        for path in entry.files:
            rel = path.relative_to(models).parts
            repo_id, filename = f"{rel[0]}/{rel[1]}", "/".join(rel[2:])
            assert _sha256(path) == _hub_sha256(hub, repo_id, filename), f"unverified file listed: {path}"
            files.append(path)
    leftovers = [p for p in models.rglob("*") if p.is_file() and not p.name.endswith(".part")]
    assert sorted(leftovers) == sorted(files), "a file outside the library's view"
    return files


def _range_starts(hub: FakeHub, filename: str) -> list[int | None]:
    starts: list[int | None] = []
    for record in hub.requests_for(filename, method="GET"):
        if record.server != "cdn":
            continue
        starts.append(int(record.range.removeprefix("bytes=").split("-")[0]) if record.range else None)
    return starts


def _tiny(manager: DownloadManager) -> DownloadItem:
    return manager.enqueue(TINY_REPO, [TINY_FILE])


def test_plain_download_is_verified_and_listed(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    item = _finish(manager, _tiny(manager))
    assert item.state == ItemState.DONE, item.error
    target = models / "tiny" / "Tiny-Llama-GGUF" / TINY_FILE
    assert _sha256(target) == _hub_sha256(fake_hub, TINY_REPO, TINY_FILE)
    assert item.total_bytes == target.stat().st_size
    listed = _assert_library_holds_only_verified(fake_hub, models, tmp_path)
    assert listed == [target]


def test_dropped_connection_resumes_with_range(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    fake_hub.drop_after(100_000, match=TINY_FILE)
    item = _finish(manager, _tiny(manager))
    assert item.state == ItemState.DONE, item.error
    assert _range_starts(fake_hub, TINY_FILE) == [None, 100_000]
    _assert_library_holds_only_verified(fake_hub, models, tmp_path)


def test_stalled_stream_is_detected_and_resumed(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    fake_hub.stall(150_000, seconds=10, match=TINY_FILE)
    item = _finish(manager, _tiny(manager))
    assert item.state == ItemState.DONE, item.error
    assert _range_starts(fake_hub, TINY_FILE) == [None, 150_000]
    _assert_library_holds_only_verified(fake_hub, models, tmp_path)


def test_server_errors_are_retried(manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path) -> None:
    fake_hub.fail_next(2, status=500, match=f"cdn-lfs/{TINY_REPO}")
    fake_hub.fail_next(1, status=503, match=f"resolve/main/{TINY_FILE}")
    item = _finish(manager, _tiny(manager))
    assert item.state == ItemState.DONE, item.error
    statuses = [r.status for r in fake_hub.requests_for(TINY_FILE, method="GET")]
    assert statuses.count(500) == 2
    _assert_library_holds_only_verified(fake_hub, models, tmp_path)


def test_rate_limit_waits_for_retry_after(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    fake_hub.rate_limit(1, retry_after=1, match=f"cdn-lfs/{TINY_REPO}")
    notes: list[str] = []
    manager.subscribe(lambda event: notes.append(getattr(event, "note", "")))
    item = _finish(manager, _tiny(manager))
    assert item.state == ItemState.DONE, item.error
    gets = [r for r in fake_hub.requests_for(TINY_FILE, method="GET") if r.server == "cdn"]
    assert [r.status for r in gets] == [429, 200]
    assert any("retrying in 1 s" in n and "429" in n for n in notes), notes
    _assert_library_holds_only_verified(fake_hub, models, tmp_path)


def test_truncated_body_is_completed_with_range(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    fake_hub.truncate(200_000, match=TINY_FILE)
    item = _finish(manager, _tiny(manager))
    assert item.state == ItemState.DONE, item.error
    assert _range_starts(fake_hub, TINY_FILE) == [None, 200_000]
    _assert_library_holds_only_verified(fake_hub, models, tmp_path)


def test_wrong_bytes_once_are_downloaded_again_and_verified(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    fake_hub.corrupt(match=TINY_FILE)
    item = _finish(manager, _tiny(manager))
    assert item.state == ItemState.DONE, item.error
    assert _range_starts(fake_hub, TINY_FILE) == [None, None]  # the corrupt bytes were fetched again, whole
    assert len(_assert_library_holds_only_verified(fake_hub, models, tmp_path)) == 1


def test_wrong_bytes_twice_fail_with_checksum_error_and_nothing_listed(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    fake_hub.corrupt(times=2, match=TINY_FILE)
    item = _finish(manager, _tiny(manager))
    assert item.state == ItemState.FAILED
    assert item.error_kind == "ChecksumError"
    assert "does not match the sha256 the Hub published (downloaded 2 times)" in (item.error or "")
    assert _assert_library_holds_only_verified(fake_hub, models, tmp_path) == []
    assert not list(models.rglob("*.part"))
    # Retry downloads it again, this time whole.
    manager.retry(item.id)
    item = _finish(manager, item)
    assert item.state == ItemState.DONE, item.error
    assert len(_assert_library_holds_only_verified(fake_hub, models, tmp_path)) == 1


def test_gated_repo_stops_with_the_license_link(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    fake_hub.add_token("hf_alice", user="alice")
    name = next(n for n in fake_hub.repo(GATED_REPO).files if n.endswith(".gguf"))
    from huggingface_hub import constants

    Path(constants.HF_TOKEN_PATH).parent.mkdir(parents=True, exist_ok=True)
    Path(constants.HF_TOKEN_PATH).write_text("hf_alice")
    item = _finish(manager, manager.enqueue(GATED_REPO, [name]))
    assert item.state == ItemState.FAILED
    assert item.error_kind == "GatedRepoError"
    assert f"{fake_hub.url}/{GATED_REPO}" in (item.error or "")
    assert [r.status for r in fake_hub.requests_for(name)] == [403]  # permanent: asked once, not retried
    assert _assert_library_holds_only_verified(fake_hub, models, tmp_path) == []


def test_missing_file_stops_with_not_found(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    item = _finish(manager, manager.enqueue(TINY_REPO, ["Tiny-Llama-Q9_9.gguf"]))
    assert item.state == ItemState.FAILED
    assert item.error_kind == "NotFoundError"
    assert "Tiny-Llama-Q9_9.gguf" in (item.error or "")
    assert len(fake_hub.requests_for("Tiny-Llama-Q9_9.gguf")) == 1
    assert not models.exists() or not any(models.rglob("*.gguf"))


def test_persistent_failure_gives_up_and_keeps_the_part(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    part = models / "tiny" / "Tiny-Llama-GGUF" / (TINY_FILE + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(fake_hub.repo(TINY_REPO).files[TINY_FILE].content.read_all()[:50_000])
    fake_hub.fail_next(100, status=502, match=f"cdn-lfs/{TINY_REPO}")
    item = _finish(manager, _tiny(manager))
    assert item.state == ItemState.FAILED
    assert "Gave up" in (item.error or "")
    assert part.stat().st_size == 50_000
    assert _range_starts(fake_hub, TINY_FILE) == [50_000] * FAST.retry.max_attempts
    assert _assert_library_holds_only_verified(fake_hub, models, tmp_path) == []
    fake_hub.clear_faults()
    fake_hub.clear_requests()
    manager.retry(item.id)
    item = _finish(manager, item)
    assert item.state == ItemState.DONE, item.error
    assert _range_starts(fake_hub, TINY_FILE) == [50_000]


def _add_split_repo(hub: FakeHub, tmp_path: Path) -> list[str]:
    (tmp_path / "gen").mkdir()
    first = write_tiny_gguf(tmp_path / "gen" / "Tiny-Split-F32.gguf", TinySpec(split=3, name="Tiny Split"))
    repo = hub.add_repo(FakeRepo(SPLIT_REPO_ID))
    names = sorted(p.name for p in first.parent.iterdir())
    for name in names:
        repo.add_file(name, (first.parent / name).read_bytes())
    return names


def test_split_set_is_one_item_and_one_library_entry(
    manager: DownloadManager, fake_hub: FakeHub, models: Path, tmp_path: Path
) -> None:
    names = _add_split_repo(fake_hub, tmp_path)
    assert len(names) == 3
    fake_hub.drop_after(30_000, match=names[1])
    item = _finish(manager, manager.enqueue(SPLIT_REPO_ID, names))
    assert item.state == ItemState.DONE, item.error
    assert item.files_done == tuple(names)
    listed = _assert_library_holds_only_verified(fake_hub, models, tmp_path)
    assert len(listed) == 3
    entries = scan_library([models], HeaderIndex(tmp_path / "index.sqlite"))
    assert len(entries) == 1 and entries[0].usable and entries[0].summary is not None
    assert entries[0].summary.name == "Tiny Split"


def test_queue_survives_a_restart_and_resumes(fake_hub: FakeHub, models: Path, tmp_path: Path) -> None:
    store = QueueStore(tmp_path / "queue.json")
    fake_hub.stall(120_000, seconds=30, match=TINY_FILE)
    first = DownloadManager(lambda: models, store=store, config=DownloadConfig(disk_margin=0))
    first.start()
    item = first.enqueue(TINY_REPO, [TINY_FILE])
    part = models / "tiny" / "Tiny-Llama-GGUF" / (TINY_FILE + ".part")
    _wait_for(lambda: part.exists() and part.stat().st_size == 120_000)
    first.shutdown()
    assert QueueStore(tmp_path / "queue.json").load()[0].state == ItemState.QUEUED
    fake_hub.clear_faults()

    second = DownloadManager(lambda: models, store=QueueStore(tmp_path / "queue.json"), config=FAST)
    second.start()
    try:
        done = _finish(second, item)
    finally:
        second.shutdown()
    assert done.state == ItemState.DONE, done.error
    assert _range_starts(fake_hub, TINY_FILE)[-1] == 120_000
    _assert_library_holds_only_verified(fake_hub, models, tmp_path)


def test_pause_resume_and_cancel(fake_hub: FakeHub, models: Path, tmp_path: Path) -> None:
    manager = DownloadManager(lambda: models, store=QueueStore(tmp_path / "q.json"), config=FAST)
    manager.start()
    try:
        fake_hub.stall(100_000, seconds=30, match=TINY_FILE)
        item = manager.enqueue(TINY_REPO, [TINY_FILE])
        part = models / "tiny" / "Tiny-Llama-GGUF" / (TINY_FILE + ".part")
        _wait_for(lambda: part.exists() and part.stat().st_size == 100_000)
        manager.pause(item.id)
        _wait_for(lambda: _state(manager, item) == ItemState.PAUSED)
        assert part.stat().st_size == 100_000
        fake_hub.clear_faults()
        manager.resume(item.id)
        assert _finish(manager, item).state == ItemState.DONE
        assert _range_starts(fake_hub, TINY_FILE)[-1] == 100_000

        (models / "tiny" / "Tiny-Llama-GGUF" / TINY_FILE).unlink()
        manager.remove(item.id)
        assert manager.get(item.id) is None
        fake_hub.stall(100_000, seconds=30, match=TINY_FILE)
        again = manager.enqueue(TINY_REPO, [TINY_FILE])
        _wait_for(lambda: part.exists() and part.stat().st_size == 100_000)
        manager.cancel(again.id)
        _wait_for(lambda: _state(manager, again) == ItemState.CANCELLED)
        assert not part.exists()
    finally:
        manager.shutdown()


def _state(manager: DownloadManager, item: DownloadItem) -> ItemState | None:
    current = manager.get(item.id)
    return current.state if current else None


def _wait_for(condition: object, timeout: float = 30) -> None:
    import threading

    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():  # type: ignore[operator]
            return
        done.wait(0.02)
    raise AssertionError("condition not met in time")


def test_parallel_limit_and_git_checksummed_files(fake_hub: FakeHub, models: Path, tmp_path: Path) -> None:
    manager = DownloadManager(lambda: models, store=QueueStore(tmp_path / "q.json"), max_parallel=1, config=FAST)
    manager.start()
    try:
        fake_hub.stall(100_000, seconds=30, match=TINY_FILE)
        first = manager.enqueue(TINY_REPO, [TINY_FILE])
        second = manager.enqueue(TINY_REPO, ["config.json"])  # a plain git file: verified by its blob sha1
        part = models / "tiny" / "Tiny-Llama-GGUF" / (TINY_FILE + ".part")
        _wait_for(lambda: part.exists() and part.stat().st_size == 100_000)
        assert _state(manager, first) == ItemState.RUNNING
        assert _state(manager, second) == ItemState.QUEUED
        manager.set_max_parallel(2)
        _wait_for(lambda: _state(manager, second) == ItemState.DONE)
        assert _state(manager, first) == ItemState.RUNNING
        config = models / "tiny" / "Tiny-Llama-GGUF" / "config.json"
        assert config.read_bytes() == fake_hub.repo(TINY_REPO).files["config.json"].content.read_all()
        manager.cancel(first.id)
        _wait_for(lambda: _state(manager, first) == ItemState.CANCELLED)
    finally:
        manager.shutdown()
