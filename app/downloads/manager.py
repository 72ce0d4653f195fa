"""The download queue: persistent, N transfers at a time, pause/resume/cancel/retry. Plain threads, no Qt.

Callbacks run on the manager's threads; a UI wraps them into signals (see app/ui/models/download_service.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.core.errors import AppError, DownloadError, Stopped
from app.downloads import ranges
from app.downloads.items import (
    DownloadEvent,
    DownloadItem,
    ItemChanged,
    ItemProgress,
    ItemRemoved,
    ItemState,
    SegmentProgress,
)
from app.downloads.job import DownloadConfig, run_job
from app.downloads.landing import listed, move_finished, nothing_on_disk
from app.downloads.layout import part_path, safe_relative_name, split_repo_id
from app.downloads.priority import background_thread
from app.downloads.remote import RemoteFile
from app.downloads.speed import SpeedMeter, eta_seconds
from app.downloads.store import BackgroundSaver, QueueStore
from app.downloads.transfer import StopToken

log = logging.getLogger("app.downloads")

Listener = Callable[[DownloadEvent], None]
PROGRESS_INTERVAL = 0.25  # seconds between progress events per item (≤ 4 Hz)


@dataclass
class _Running:
    stop: StopToken
    thread: threading.Thread | None = None
    done: int = 0
    total: int | None = None
    note: str = ""
    meter: SpeedMeter = field(default_factory=SpeedMeter)
    last: ItemProgress | None = None
    segments: tuple[SegmentProgress, ...] = ()  # the connections of the file being fetched, if segmented


class DownloadManager:
    def __init__(
        self,
        models_dir: Callable[[], Path],
        *,
        store: QueueStore | None = None,
        max_parallel: int = 2,
        config: DownloadConfig | None = None,
        library_folders: Callable[[], Sequence[Path]] | None = None,
    ) -> None:
        """`models_dir`: where new items go (read at each enqueue and start); `library_folders`: every folder
        the Library lists (default: the models folder alone), to tell where a finished item is still listed."""
        self._models_dir = models_dir
        self._library_folders = library_folders or (lambda: [models_dir()])
        self._store = store or QueueStore()
        self._config = config or DownloadConfig()
        self._max_parallel = max(1, max_parallel)
        self._lock = threading.RLock()
        self._items: dict[str, DownloadItem] = {i.id: i for i in self._store.load()}
        self._saver = BackgroundSaver(self._store)
        self._running: dict[str, _Running] = {}
        self._listeners: list[Listener] = []
        self._version = 0
        self._started = False
        self._closing = threading.Event()
        self._ticker: threading.Thread | None = None
        self._idle = threading.Condition(self._lock)

    # ---- observing -------------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def items(self) -> list[DownloadItem]:
        with self._lock:
            return sorted(self._items.values(), key=lambda i: i.added_at)

    def get(self, item_id: str) -> DownloadItem | None:
        with self._lock:
            return self._items.get(item_id)

    def progress(self, item_id: str) -> ItemProgress:
        with self._lock:
            item = self._items[item_id]
            run = self._running.get(item_id)
        if run is not None:
            last = run.last  # the speed is sampled by the ticker thread only
            speed = last.speed if last is not None else 0.0
            eta = eta_seconds(run.done, run.total, speed)
            return ItemProgress(item_id, run.done, run.total, speed, eta, run.note, run.segments)
        if item.state == ItemState.DONE:
            return ItemProgress(item_id, item.total_bytes or 0, item.total_bytes, 0.0, None)
        return ItemProgress(item_id, _bytes_on_disk(item), item.total_bytes, 0.0, None, "", _pieces_on_disk(item))

    @property
    def max_parallel(self) -> int:
        return self._max_parallel

    @property
    def segments(self) -> int:
        return self._config.segments

    # ---- commands ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin transferring: items restored from disk resume here."""
        with self._lock:
            self._started = True
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name="downloads-progress", daemon=True)
                self._ticker.start()
        self._pump()

    def enqueue(self, repo_id: str, filenames: Sequence[str], revision: str = "main") -> DownloadItem:
        """Queue these files of a repository (all parts of a split set in one call); raises AppError for a bad
        repo or file name.

        The same files asked for again never make a second item, whoever asks (a page, the API, a script): a
        queued, running or paused item is returned as it is, a finished one whose files are still there too, a
        failed or cancelled one is retried, and a finished one whose files are gone is replaced."""
        split_repo_id(repo_id)
        if not filenames:
            raise DownloadError("Nothing to download: no file was chosen")
        for name in filenames:
            safe_relative_name(name)
        names = tuple(filenames)
        removed: str | None = None
        with self._lock:
            existing = self.find(repo_id, names)
            if existing is not None:
                if existing.state in (ItemState.FAILED, ItemState.CANCELLED):
                    log.info("%s was %s; retrying it", existing.title, existing.state.value)
                    self._put(existing.with_(state=ItemState.QUEUED, error=None, error_kind=None, finished_at=None))
                    item = self._items[existing.id]
                elif existing.state.active or all(path.is_file() for path in existing.targets()):
                    log.info("%s is already %s; not adding it again", existing.title, existing.state.value)
                    return existing
                else:
                    removed = existing.id  # finished, but its files are gone: a new item replaces it
                    del self._items[removed]
                    existing = None
            if existing is None:
                item = self._add(repo_id, names, revision)
        if removed is not None:
            self._emit(ItemRemoved(removed))
        self._pump()
        return item

    def find(self, repo_id: str, filenames: Sequence[str]) -> DownloadItem | None:
        """The newest item for exactly these files of this repository, in any state."""
        names = tuple(filenames)
        with self._lock:
            matches = [i for i in self._items.values() if i.repo_id == repo_id and i.filenames == names]
        return max(matches, key=lambda i: i.added_at) if matches else None

    def _add(self, repo_id: str, names: tuple[str, ...], revision: str) -> DownloadItem:
        with self._lock:
            item = DownloadItem(
                id=uuid.uuid4().hex,
                repo_id=repo_id,
                filenames=names,
                revision=revision,
                models_dir=str(self._models_dir()),
                added_at=time.time(),
            )
            self._put(item)
        return item

    def pause(self, item_id: str) -> None:
        self._stop_or_set(item_id, "pause", ItemState.PAUSED, {ItemState.QUEUED, ItemState.RUNNING})

    def cancel(self, item_id: str) -> None:
        self._stop_or_set(
            item_id, "cancel", ItemState.CANCELLED, {ItemState.QUEUED, ItemState.RUNNING, ItemState.PAUSED}
        )

    def resume(self, item_id: str) -> None:
        self._requeue(item_id, {ItemState.PAUSED})

    def retry(self, item_id: str) -> None:
        self._requeue(item_id, {ItemState.FAILED, ItemState.CANCELLED})

    def remove(self, item_id: str) -> None:
        """Forget a finished, failed or cancelled item (its files stay)."""
        with self._lock:
            item = self._items.get(item_id)
            if item is None or item.state.active:
                return
            del self._items[item_id]
            self._version += 1
            self._saver.submit(list(self._items.values()), self._version)
        self._emit(ItemRemoved(item_id))

    def set_segments(self, n: int) -> None:
        """Connections per file for transfers that start from now on (a running file keeps its own)."""
        with self._lock:
            self._config = replace(self._config, segments=max(1, n))

    def models_dir_changed(self) -> None:
        """The models folder setting changed: waiting items with nothing on disk follow it now (running items,
        and those with a part, finish where their bytes are; see landing.py)."""
        with self._lock:
            for item in list(self._items.values()):
                if item.state in (ItemState.QUEUED, ItemState.PAUSED) and item.id not in self._running:
                    moved = self._retargeted(item)
                    if moved is not item:
                        self._put(moved)

    def _retargeted(self, item: DownloadItem) -> DownloadItem:
        """`item` aimed at the current models folder when nothing of it is on disk yet. Called with the lock."""
        current = str(self._models_dir())
        if item.models_dir == current:
            return item
        try:
            if not nothing_on_disk(item.targets()):
                return item
        except AppError:
            return item
        log.info("%s goes to the new models folder %s", item.title, current)
        return item.with_(models_dir=current)

    def set_max_parallel(self, n: int) -> None:
        with self._lock:
            self._max_parallel = max(1, n)
        self._pump()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (tests and the CLI)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while any(i.state in {ItemState.QUEUED, ItemState.RUNNING} for i in self._items.values()):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop transfers; running items stay queued on disk and resume on the next start."""
        self._closing.set()
        with self._lock:
            runs = list(self._running.values())
        for run in runs:
            run.stop.stop("shutdown")
        for run in runs:
            if run.thread is not None:
                run.thread.join(timeout)
        self._saver.close()  # the final states are on disk before the app goes

    # ---- internals ---------------------------------------------------------------------------------------
    def _stop_or_set(self, item_id: str, reason: str, state: ItemState, allowed: set[ItemState]) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is None or item.state not in allowed:
                return
            run = self._running.get(item_id)
            if run is None:
                self._put(item.with_(state=state))
        if run is not None:
            run.stop.stop(reason)  # the worker records the new state when it has let go of the files
        elif state == ItemState.CANCELLED:
            # Unlinking a big file can take a while; the caller is often the GUI thread.
            threading.Thread(target=_delete_parts, args=(item,), name="download-cancel", daemon=True).start()

    def _requeue(self, item_id: str, allowed: set[ItemState]) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is None or item.state not in allowed:
                return
            self._put(item.with_(state=ItemState.QUEUED, error=None, error_kind=None, finished_at=None))
        self._pump()

    def _put(self, item: DownloadItem) -> None:
        """Record a change, save the queue and tell listeners. Called with the lock held."""
        self._items[item.id] = item
        self._version += 1
        self._saver.submit(list(self._items.values()), self._version)
        self._emit(ItemChanged(item))
        self._idle.notify_all()

    def _emit(self, event: DownloadEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("download listener failed")

    def _pump(self) -> None:
        with self._lock:
            if not self._started or self._closing.is_set():
                return
            queued = [i for i in sorted(self._items.values(), key=lambda i: i.added_at) if i.state == ItemState.QUEUED]
            for item in queued[: max(0, self._max_parallel - len(self._running))]:
                run = _Running(StopToken(), total=item.total_bytes)
                run.done = _bytes_on_disk(item)
                run.meter.reset(run.done)
                self._running[item.id] = run
                item = self._retargeted(item)  # the setting may have changed since it was queued
                self._put(item.with_(state=ItemState.RUNNING, error=None, error_kind=None))
                run.thread = threading.Thread(target=self._work, args=(item.id, run), name="download", daemon=True)
                run.thread.start()

    def _work(self, item_id: str, run: _Running) -> None:
        background_thread(self._config.nice)  # inherited by the connection and hashing threads it starts
        item = self._items[item_id]
        listener = _RunListener(self, item_id, run)
        outcome: dict[str, object]
        try:
            run_job(
                item.repo_id,
                item.filenames,
                item.commit or item.revision,  # a resumed item finishes the commit it started from
                Path(item.models_dir),
                run.stop,
                listener,
                self._config,
                on_segments=listener.segments,
            )
            outcome = {"state": ItemState.DONE, "finished_at": time.time(), **self._landed(item)}
        except Stopped:
            reason = run.stop.reason
            state = {"pause": ItemState.PAUSED, "cancel": ItemState.CANCELLED}.get(reason, ItemState.QUEUED)
            if state == ItemState.CANCELLED:
                _delete_parts(item)
            outcome = {"state": state}
        except AppError as exc:
            log.warning("download of %s failed: %s", item.title, exc)
            outcome = {"state": ItemState.FAILED, "error": str(exc), "error_kind": type(exc).__name__}
        except Exception as exc:  # a bug must still end the item, not leave it "running" forever
            log.exception("download of %s crashed", item.title)
            outcome = {
                "state": ItemState.FAILED,
                "error": f"Unexpected error: {exc}",
                "error_kind": "Exception",
            }
        with self._lock:
            self._running.pop(item_id, None)
            current = self._items.get(item_id, item)
            if run.stop.reason == "shutdown" and outcome["state"] != ItemState.DONE:
                outcome = {"state": ItemState.QUEUED}
            self._put(current.with_(**outcome))
            if outcome["state"] == ItemState.DONE:
                self._emit(ItemProgress(item_id, run.done, run.total, 0.0, 0.0))
        self._pump()

    def _landed(self, item: DownloadItem) -> dict[str, object]:
        """A finished item in a folder the Library no longer lists (its models were moved to a new folder while
        this one ran) moves after them; the item's changes."""
        current = self._models_dir()
        if Path(item.models_dir) == current or listed(Path(item.models_dir), self._library_folders()):
            return {}
        try:
            sources = item.targets()
            moved = item.with_(models_dir=str(current))
            if move_finished(sources, moved.targets()):
                log.info("%s moved to the new models folder %s", item.title, current)
                return {"models_dir": moved.models_dir}
        except AppError as exc:
            log.warning("%s stays in %s: %s", item.title, item.models_dir, exc)
        return {}

    def _tick(self) -> None:
        while not self._closing.wait(PROGRESS_INTERVAL):
            with self._lock:
                runs = list(self._running.items())
            for item_id, run in runs:
                speed = run.meter.sample(run.done)
                run.last = ItemProgress(
                    item_id, run.done, run.total, speed, eta_seconds(run.done, run.total, speed), run.note, run.segments
                )
                self._emit(run.last)

    def _resolved(self, item_id: str, files: Sequence[RemoteFile]) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is not None:
                self._put(item.with_(total_bytes=sum(f.size for f in files), commit=files[0].commit))

    def _file_done(self, item_id: str, filename: str) -> None:
        with self._lock:
            item = self._items.get(item_id)
            if item is not None and filename not in item.files_done:
                self._put(item.with_(files_done=(*item.files_done, filename)))


class _RunListener:
    """Job callbacks for one running item; progress is only stored here and sampled by the ticker."""

    def __init__(self, manager: DownloadManager, item_id: str, run: _Running) -> None:
        self._manager = manager
        self._item_id = item_id
        self._run = run

    def resolved(self, files: Sequence[RemoteFile], done_bytes: int) -> None:
        self._run.total = sum(f.size for f in files)
        self._run.done = done_bytes
        self._run.meter.reset(done_bytes)
        self._manager._resolved(self._item_id, files)

    def progress(self, done_bytes: int) -> None:
        self._run.done = done_bytes
        if self._run.note:
            self._run.note = ""

    def retrying(self, message: str, delay: float) -> None:
        self._run.note = f"retrying in {delay:.0f} s: {message}"

    def segments(self, states: tuple[SegmentProgress, ...]) -> None:
        self._run.segments = states

    def file_done(self, filename: str) -> None:
        self._manager._file_done(self._item_id, filename)


def _bytes_on_disk(item: DownloadItem) -> int:
    total = 0
    try:
        targets = item.targets()
    except AppError:
        return 0
    for target in targets:
        try:
            total += target.stat().st_size
        except OSError:
            total += ranges.bytes_done(part_path(target))
    return total


def _pieces_on_disk(item: DownloadItem) -> tuple[SegmentProgress, ...]:
    """The pieces of the first unfinished file with a segmented part (a paused item's map), else none."""
    with contextlib.suppress(AppError):
        for target in item.targets():
            if target.exists():
                continue
            record = ranges.pieces(part_path(target))
            if record is None:
                return ()
            size, done = record
            spans = [(a, b, "done") for a, b in done] + [(a, b, "waiting") for a, b in ranges.gaps(done, size)]
            return tuple(
                SegmentProgress(i, a, b, b - a if state == "done" else 0, 0.0, state)
                for i, (a, b, state) in enumerate(sorted(spans))
            )
    return ()


def _delete_parts(item: DownloadItem) -> None:
    with contextlib.suppress(AppError):
        for target in item.targets():
            with contextlib.suppress(OSError):
                part_path(target).unlink()
            ranges.discard(part_path(target))
