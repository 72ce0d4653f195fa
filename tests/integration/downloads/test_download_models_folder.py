"""The models folder moved in Settings while downloads wait or run: items with nothing on disk follow it, a
running one finishes where its bytes are and is then moved after the models (Move) or stays listed where it
landed (Keep: the old folder stays in the Library)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.downloads.items import DownloadItem, ItemState
from app.downloads.job import DownloadConfig
from app.downloads.manager import DownloadManager
from app.downloads.store import QueueStore
from tests.fakehub import FakeHub, FakeRepo

REPO_ID = "moveorg/Move-GGUF"
FILE = "Move-Q4_K_M.gguf"
SPLIT = ("Move-Q8_0-00001-of-00002.gguf", "Move-Q8_0-00002-of-00002.gguf")
DATA = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(DATA).hexdigest()
CONFIG = DownloadConfig(disk_margin=0)


@dataclass
class _Folders:
    """The two settings the manager reads: the models folder and the folders the Library lists."""

    models: Path
    also: list[Path] = field(default_factory=list)

    def library(self) -> list[Path]:
        return [self.models, *self.also]


@pytest.fixture
def hub(fake_hub_empty: FakeHub) -> FakeHub:
    repo = fake_hub_empty.add_repo(FakeRepo(REPO_ID))
    for name in (FILE, *SPLIT):
        repo.add_file(name, DATA)
    return fake_hub_empty


@pytest.fixture
def folders(tmp_path: Path) -> _Folders:
    return _Folders(tmp_path / "old")


@pytest.fixture
def manager(hub: FakeHub, folders: _Folders, tmp_path: Path) -> Iterator[DownloadManager]:
    m = DownloadManager(
        lambda: folders.models,
        store=QueueStore(tmp_path / "queue.json"),
        config=CONFIG,
        library_folders=folders.library,
    )
    yield m
    m.shutdown()


def _item(manager: DownloadManager, item_id: str) -> DownloadItem:
    item = manager.get(item_id)
    assert item is not None
    return item


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _verified(path: Path) -> None:
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA


def _wait(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.parametrize("told", [True, False], ids=["told", "at-start"])
def test_a_queued_item_follows_the_new_models_folder(
    manager: DownloadManager, folders: _Folders, tmp_path: Path, told: bool
) -> None:
    item = manager.enqueue(REPO_ID, list(SPLIT))  # queued: the queue has not started
    assert item.models_dir == str(tmp_path / "old")
    folders.models = tmp_path / "new"
    if told:  # Settings tells the queue at once; untold, the item still follows when it starts
        manager.models_dir_changed()
        assert _item(manager, item.id).models_dir == str(tmp_path / "new")
    manager.start()
    assert manager.wait_idle(60)
    done = manager.get(item.id)
    assert done is not None and done.state == ItemState.DONE and done.models_dir == str(tmp_path / "new")
    for path in done.targets():
        _verified(path)
    assert _files(tmp_path / "old") == []
    assert _files(tmp_path / "new") == [f"moveorg/Move-GGUF/{name}" for name in SPLIT]


def _running_with_bytes(manager: DownloadManager, hub: FakeHub) -> str:
    hub.throttle(400_000)  # about 2.5 s for the file: the folder changes while it arrives
    item = manager.enqueue(REPO_ID, [FILE])
    manager.start()
    _wait(lambda: manager.progress(item.id).done_bytes > 0)
    assert _item(manager, item.id).state == ItemState.RUNNING
    return item.id


def test_a_running_item_lands_then_follows_models_that_were_moved(
    manager: DownloadManager, hub: FakeHub, folders: _Folders, tmp_path: Path
) -> None:
    item_id = _running_with_bytes(manager, hub)
    folders.models = tmp_path / "new"  # "Move them": the old folder is no longer in the Library
    manager.models_dir_changed()
    assert _item(manager, item_id).models_dir == str(tmp_path / "old")
    assert manager.wait_idle(60)
    done = manager.get(item_id)
    assert done is not None and done.state == ItemState.DONE
    assert done.models_dir == str(tmp_path / "new")
    _verified(done.targets()[0])
    assert _files(tmp_path / "new") == [f"moveorg/Move-GGUF/{FILE}"]
    assert _files(tmp_path / "old") == [] and not (tmp_path / "old" / "moveorg").exists()  # nothing left behind


def test_a_running_item_stays_where_it_landed_when_the_old_folder_was_kept(
    manager: DownloadManager, hub: FakeHub, folders: _Folders, tmp_path: Path
) -> None:
    item_id = _running_with_bytes(manager, hub)
    folders.models, folders.also = tmp_path / "new", [tmp_path / "old"]  # "Keep them": still in the Library
    manager.models_dir_changed()
    assert manager.wait_idle(60)
    done = manager.get(item_id)
    assert done is not None and done.state == ItemState.DONE and done.models_dir == str(tmp_path / "old")
    _verified(done.targets()[0])
    assert _files(tmp_path / "old") == [f"moveorg/Move-GGUF/{FILE}"]
    assert _files(tmp_path / "new") == []


def test_a_paused_item_with_a_part_keeps_its_folder_and_a_taken_name_is_never_overwritten(
    manager: DownloadManager, hub: FakeHub, folders: _Folders, tmp_path: Path
) -> None:
    item_id = _running_with_bytes(manager, hub)
    manager.pause(item_id)
    _wait(lambda: _item(manager, item_id).state == ItemState.PAUSED)
    folders.models = tmp_path / "new"
    manager.models_dir_changed()
    assert _item(manager, item_id).models_dir == str(tmp_path / "old")
    taken = tmp_path / "new" / "moveorg" / "Move-GGUF" / FILE
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"another file of that name")
    hub.throttle(0)
    manager.resume(item_id)
    assert manager.wait_idle(60)
    done = manager.get(item_id)
    assert done is not None and done.state == ItemState.DONE
    assert done.models_dir == str(tmp_path / "old")  # it could not follow: it stays where it landed
    _verified(done.targets()[0])
    assert taken.read_bytes() == b"another file of that name"
