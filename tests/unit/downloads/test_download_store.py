from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from app.downloads.checksum import Checksum, HashPipe, hash_prefix
from app.downloads.items import DownloadItem, ItemState
from app.downloads.speed import SpeedMeter, eta_seconds
from app.downloads.store import QueueStore


def _item(state: ItemState, **kw: object) -> DownloadItem:
    return DownloadItem(
        id=f"id-{state.value}",
        repo_id="org/model",
        filenames=("a-00001-of-00002.gguf", "a-00002-of-00002.gguf"),
        revision="main",
        models_dir="/m",
        state=state,
        added_at=1.0,
        **kw,  # type: ignore[arg-type]
    )


def test_queue_round_trips_and_running_items_come_back_queued(tmp_path: Path) -> None:
    store = QueueStore(tmp_path / "downloads.json")
    items = [
        _item(ItemState.RUNNING, total_bytes=10, commit="c0ffee"),
        _item(ItemState.PAUSED),
        _item(ItemState.FAILED, error="boom", error_kind="DownloadError"),
        _item(ItemState.DONE, files_done=("a-00001-of-00002.gguf",), finished_at=5.0),
    ]
    store.save(items, version=1)
    loaded = QueueStore(tmp_path / "downloads.json").load()
    assert [i.state for i in loaded] == [ItemState.QUEUED, ItemState.PAUSED, ItemState.FAILED, ItemState.DONE]
    assert loaded[0].with_(state=ItemState.RUNNING) == items[0]
    assert loaded[1:] == items[1:]
    assert not list(tmp_path.glob("*.part"))


def test_an_older_snapshot_never_replaces_a_newer_one(tmp_path: Path) -> None:
    store = QueueStore(tmp_path / "downloads.json")
    store.save([_item(ItemState.PAUSED)], version=2)
    store.save([], version=1)
    assert len(store.load()) == 1


def test_unreadable_queue_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "downloads.json"
    path.write_text("{not json")
    assert QueueStore(path).load() == []
    assert (tmp_path / "downloads.json.broken").read_text() == "{not json"
    path.write_text(json.dumps({"version": 1, "items": [{"id": "x"}]}))
    assert QueueStore(path).load() == []


def test_split_item_title() -> None:
    assert _item(ItemState.QUEUED).title == "a-00001-of-00002.gguf (+1)"


@pytest.mark.parametrize("sizes", [[1], [100, 3, 70_000], [1 << 20, 1 << 20, 5], [4096] * 700])
def test_hash_pipe_equals_hashing_in_line(sizes: list[int]) -> None:
    data = [os.urandom(n) for n in sizes]
    direct = hashlib.sha256(b"".join(data)).hexdigest()
    hasher = hashlib.sha256()
    pipe = HashPipe(hasher, slot_size=8192, slots=2)
    for chunk in data:
        pipe.feed(chunk)
    pipe.close()
    assert hasher.hexdigest() == direct


def test_git_blob_checksum_matches_git(tmp_path: Path) -> None:
    data = b"hello world\n"
    checksum = Checksum.from_etag('"3b18e512dba79e4c8300dd08aeb37f8e728b8dad"')  # `git hash-object` of data
    assert checksum is not None and checksum.algorithm == "git-sha1"
    hasher = checksum.new_hasher(len(data))
    (tmp_path / "f").write_bytes(data)
    hash_prefix(hasher, tmp_path / "f", len(data))
    assert hasher.hexdigest() == checksum.hexdigest


def test_etags_without_a_digest_give_no_checksum() -> None:
    assert Checksum.from_etag(None) is None
    assert Checksum.from_etag('W/"abc"') is None
    sha = "a" * 64
    assert Checksum.from_etag(f'W/"{sha}"') == Checksum("sha256", sha)


def test_speed_and_eta() -> None:
    meter = SpeedMeter(window=2.0)
    meter.reset(0, now=0.0)
    assert meter.sample(100, now=1.0) == 100.0
    assert meter.sample(300, now=2.0) == 150.0
    assert meter.sample(300, now=5.0) == 0.0  # a stall drops the readout to zero instead of freezing it
    assert eta_seconds(300, 1300, 100.0) == 10.0
    assert eta_seconds(300, None, 100.0) is None and eta_seconds(300, 1300, 0.0) is None


def test_background_saver_writes_the_newest_snapshot(tmp_path: Path) -> None:
    from app.downloads.store import BackgroundSaver

    store = QueueStore(tmp_path / "downloads.json")
    saver = BackgroundSaver(store)
    for version in range(1, 30):
        saver.submit([_item(ItemState.PAUSED, total_bytes=version)], version)
    assert saver.flush()
    assert [i.total_bytes for i in store.load()] == [29]
    saver.close()
    saver.submit([_item(ItemState.DONE)], 30)  # after close: written at once
    assert [i.state for i in store.load()] == [ItemState.DONE]
