"""Parallel ranged segments against the fake Hub, through the real huggingface_hub client: every fault hits one
segment (the response carrying one file offset), and each case ends with a verified file or a clear error. The
fault cases run twice: one request per piece, and as on a fast link, where each request takes a run of pieces."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import ChecksumError, Stopped
from app.downloads import ranges
from app.downloads.items import ItemProgress, ItemState, SegmentProgress
from app.downloads.job import DownloadConfig, RetryPolicy, run_job
from app.downloads.manager import DownloadManager
from app.downloads.store import QueueStore
from app.downloads.transfer import StopToken, Timeouts
from tests.fakehub import FakeHub, FakeRepo

REPO_ID = "segorg/Seg-GGUF"
FILE = "Seg-Q4_K_M.gguf"
SIZE = 8 << 20
PIECE = SIZE // 8  # what each of the 8 connections starts with
DATA = b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(SIZE // 32))
SHA = hashlib.sha256(DATA).hexdigest()
AT = 5 * PIECE + 100_000  # a byte inside the sixth segment
SEGMENTED = DownloadConfig(
    retry=RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.2, max_retry_after=2),
    timeouts=Timeouts(connect=5, stall=0.5),
    disk_margin=0,
    segments=8,
    min_segment=PIECE,
    min_steal=SIZE,  # no hand-over unless a test asks for it: the requests each fault causes are exact
    idle_steal=60.0,
)
# Every connection from the start: which tail an idle connection takes depends on who else is fetching.
STEALING = replace(SEGMENTED, min_steal=256 << 10, start_segments=8)
RUN_AT = 4 * PIECE  # where the request holding AT begins with runs
LAYOUTS = pytest.mark.parametrize("runs", [False, True], ids=["pieces", "runs"])


def _config(runs: bool, base: DownloadConfig = SEGMENTED) -> DownloadConfig:
    """As on a fast link with `runs`: each of 2 connections takes its run of the 8 pieces in one request,
    [0, 4 P) and [4 P, 8 P)."""
    return replace(base, segments=2, start_segments=2, fast_link=0) if runs else base


def _holding_at(runs: bool) -> tuple[int, int]:
    """[first byte, end) of the request that carries AT."""
    return (RUN_AT, SIZE) if runs else (5 * PIECE, 6 * PIECE)


@pytest.fixture
def hub(fake_hub_empty: FakeHub) -> FakeHub:
    fake_hub_empty.add_repo(FakeRepo(REPO_ID)).add_file(FILE, DATA)
    fake_hub_empty.throttle(2_000_000)  # per connection: segments overlap in time
    return fake_hub_empty


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return tmp_path / "models"


class _Recorder:
    def __init__(self) -> None:
        self.retries: list[tuple[str, float]] = []
        self.snapshots: list[tuple[SegmentProgress, ...]] = []
        self.done: list[int] = []

    def resolved(self, files: Sequence[Any], done_bytes: int) -> None:
        pass

    def progress(self, done_bytes: int) -> None:
        self.done.append(done_bytes)

    def retrying(self, message: str, delay: float) -> None:
        self.retries.append((message, delay))

    def file_done(self, filename: str) -> None:
        pass


def _download(models: Path, config: DownloadConfig = SEGMENTED, recorder: _Recorder | None = None) -> Path:
    rec = recorder or _Recorder()
    paths = run_job(REPO_ID, [FILE], "main", models, StopToken(), rec, config, on_segments=rec.snapshots.append)
    return paths[0]


def _cdn_spans(hub: FakeHub) -> list[tuple[int, int]]:
    """[first, end) of each ranged GET the CDN was asked."""
    out = []
    for record in hub.requests_for(FILE, method="GET"):
        if record.server == "cdn" and record.range:
            first, _, last = record.range.removeprefix("bytes=").partition("-")
            out.append((int(first), int(last) + 1 if last else SIZE))
    return out


def _cdn_gets(hub: FakeHub) -> list[tuple[int, int | None]]:
    """(first byte asked for, -1 without a Range; status) of each GET the CDN answered, in arrival order."""
    out: list[tuple[int, int | None]] = []
    for record in hub.requests_for(FILE, method="GET"):
        if record.server == "cdn":
            start = int(record.range.removeprefix("bytes=").split("-")[0]) if record.range else -1
            out.append((start, record.status))
    return out


def _verified(path: Path) -> None:
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA
    part = path.with_name(path.name + ".part")
    assert not part.exists() and not ranges.ranges_path(part).exists()
    assert sorted(p.name for p in path.parent.iterdir()) == [FILE]


def test_file_arrives_in_eight_ranged_segments_and_is_verified(hub: FakeHub, models: Path) -> None:
    rec = _Recorder()
    _verified(_download(models, recorder=rec))
    assert sorted(start for start, _ in _cdn_gets(hub)) == [i * PIECE for i in range(8)]
    assert {status for _, status in _cdn_gets(hub)} == {206}
    assert rec.done[-1] == SIZE
    running = [s for s in rec.snapshots if s]
    assert running and max(len(s) for s in running) == 8
    assert rec.snapshots[-1] == ()  # the segments view empties when the file is done


def test_on_a_fast_link_each_connection_fetches_a_run_of_pieces_in_one_request(hub: FakeHub, models: Path) -> None:
    rec = _Recorder()
    _verified(_download(models, _config(True), rec))
    assert sorted(_cdn_gets(hub)) == [(0, 206), (RUN_AT, 206)]
    assert sorted(_cdn_spans(hub)) == [(0, RUN_AT), (RUN_AT, SIZE)]
    running = [s for s in rec.snapshots if s]
    assert running and max(len(s) for s in running) == 2  # two runs, not eight pieces, in the piece map
    assert all(sum(s.end - s.start for s in snap) == SIZE for snap in running)  # and they cover the file


@pytest.mark.parametrize("in_flight", [True, False])
def test_pieces_are_handed_out_in_file_order(hub: FakeHub, models: Path, in_flight: bool) -> None:
    config = replace(SEGMENTED, min_segment=PIECE // 2, hash_in_flight=in_flight)  # 16 pieces, 8 connections
    _verified(_download(models, config))
    starts = [start for start, _ in _cdn_gets(hub)]
    assert sorted(starts) == [i * PIECE // 2 for i in range(16)]
    assert sorted(starts[:8]) == [i * PIECE // 2 for i in range(8)]  # the front of the file first


@LAYOUTS
@pytest.mark.parametrize("fault", ["drop", "truncate"])
def test_one_segment_dropped_or_truncated_resumes_from_its_own_bytes(
    hub: FakeHub, models: Path, fault: str, runs: bool
) -> None:
    (hub.drop_at if fault == "drop" else hub.truncate_at)(AT, match=FILE)
    _verified(_download(models, _config(runs)))
    gets = _cdn_gets(hub)
    # Only the broken segment asked again, from the first byte it did not get, to the end of its run.
    first = [0, RUN_AT] if runs else [i * PIECE for i in range(8)]
    assert sorted(start for start, _ in gets) == sorted([*first, AT])
    assert (AT, 206) in gets
    assert (AT, _holding_at(runs)[1]) in _cdn_spans(hub)


@LAYOUTS
def test_a_range_reply_from_the_wrong_byte_is_asked_again(hub: FakeHub, models: Path, runs: bool) -> None:
    hub.misplace_at(AT, by=4096, match=FILE)  # the reply carrying AT starts 4 KiB later than asked
    rec = _Recorder()
    _verified(_download(models, _config(runs), rec))
    start, end = _holding_at(runs)
    assert _cdn_spans(hub).count((start, end)) == 2
    assert len(_cdn_spans(hub)) == (3 if runs else 9)  # that one request again, nothing else
    assert any(f"not {start}" in message for message, _ in rec.retries), rec.retries


@LAYOUTS
def test_one_stalled_segment_times_out_and_resumes(hub: FakeHub, models: Path, runs: bool) -> None:
    hub.stall_at(AT, seconds=30, match=FILE)
    rec = _Recorder()
    _verified(_download(models, _config(runs), rec))
    assert (AT, 206) in _cdn_gets(hub)
    assert any("stopped sending" in message for message, _ in rec.retries), rec.retries


@LAYOUTS
def test_a_silent_segment_hands_its_tail_to_an_idle_connection(hub: FakeHub, models: Path, runs: bool) -> None:
    hub.stall_at(AT, seconds=60, match=FILE)
    config = replace(_config(runs, STEALING), timeouts=Timeouts(connect=5, stall=30), idle_steal=0.3)
    rec = _Recorder()
    _verified(_download(models, config, rec))
    # A new segment begins exactly where the silent one stopped: another connection took the tail over
    # (the silent one would only have retried after its 30 s stall timeout, and retries make no new segment).
    thieves = {s.start for snapshot in rec.snapshots for s in snapshot if s.index >= 8}
    assert AT in thieves
    assert not rec.retries


@LAYOUTS
def test_a_slow_tail_is_split_with_idle_connections(hub: FakeHub, models: Path, runs: bool) -> None:
    hub.stall_at(AT, seconds=3, match=FILE)  # slow, not silent (under the 60 s idle limit): half its tail moves
    rec = _Recorder()
    config = _config(runs, STEALING)
    if runs:  # the other connection is idle only once its run is done, after the 0.5 s stall limit
        config = replace(config, timeouts=Timeouts(connect=5, stall=10))
    _verified(_download(models, config, rec))
    thieves = {s.start for snapshot in rec.snapshots for s in snapshot if s.index >= 8}
    # The first thief split the stalled segment's tail [AT, end of its piece or run) in half.
    end = _holding_at(runs)[1]
    assert AT + (end - AT) // 2 in thieves, (AT, thieves)


@LAYOUTS
@pytest.mark.parametrize("status", [500, 503, 416])
def test_one_segment_answered_a_server_error_is_retried_alone(
    hub: FakeHub, models: Path, status: int, runs: bool
) -> None:
    hub.fail_covering(AT, 2, status, match=f"cdn-lfs/{REPO_ID}")
    rec = _Recorder()
    _verified(_download(models, _config(runs), rec))
    gets = _cdn_gets(hub)
    start = _holding_at(runs)[0]
    assert [s for s in gets if s[1] == status] == [(start, status)] * 2
    assert gets.count((start, 206)) == 1
    said = "refused the byte range" if status == 416 else f"answered {status}"
    assert len(rec.retries) == 2 and all(said in m for m, _ in rec.retries), rec.retries


@LAYOUTS
def test_one_segment_rate_limited_waits_for_its_retry_after(hub: FakeHub, models: Path, runs: bool) -> None:
    hub.fail_covering(AT, 1, 429, match=f"cdn-lfs/{REPO_ID}", retry_after=1)
    rec = _Recorder()
    _verified(_download(models, _config(runs), rec))
    assert len(rec.retries) == 1
    message, delay = rec.retries[0]
    assert delay == 1.0 and "429" in message and message.startswith("connection ")
    assert [s for s in _cdn_gets(hub) if s[1] == 429] == [(_holding_at(runs)[0], 429)]


@LAYOUTS
def test_pause_while_connections_wait_for_work_keeps_every_byte(hub: FakeHub, models: Path, runs: bool) -> None:
    hub.stall_at(AT, seconds=60, match=FILE)  # one connection hangs; with no stealing the others go idle
    config = replace(_config(runs), timeouts=Timeouts(connect=5, stall=60))
    kept = [(0, AT)] if runs else [(0, AT), (6 * PIECE, SIZE)]
    stop, rec = StopToken(), _Recorder()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            run_job(REPO_ID, [FILE], "main", models, stop, rec, config, on_segments=rec.snapshots.append)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    _wait_for(lambda: any(sum(s.done_bytes for s in snap) == ranges.covered(kept) for snap in rec.snapshots))
    stop.stop("pause")
    worker.join(30)
    assert not worker.is_alive(), "pause did not end the download"
    assert len(outcome) == 1 and isinstance(outcome[0], Stopped)
    part = models / "segorg" / "Seg-GGUF" / (FILE + ".part")
    assert ranges.load(part, SIZE, _checksum()) == kept
    hub.clear_faults()
    _verified(_download(models))


@LAYOUTS
def test_server_ignoring_range_falls_back_to_one_stream(hub: FakeHub, models: Path, runs: bool) -> None:
    hub.ranges_supported = False
    hub.throttle(0)
    _verified(_download(models, _config(runs)))
    gets = _cdn_gets(hub)
    assert all(status == 200 for _, status in gets)
    assert [start for start, _ in gets].count(-1) == 1  # one stream, from byte 0, after the ranged tries


@LAYOUTS
def test_resume_fetches_only_the_gaps_of_the_record(hub: FakeHub, models: Path, runs: bool) -> None:
    target = models / "segorg" / "Seg-GGUF" / FILE
    part = target.with_name(FILE + ".part")
    part.parent.mkdir(parents=True)
    done = [(0, 300_000), (PIECE * 3, PIECE * 3 + 200_000), (SIZE - 1000, SIZE)]
    with open(part, "wb") as handle:
        handle.truncate(SIZE)
        for start, end in done:
            handle.seek(start)
            handle.write(DATA[start:end])
    from app.downloads.checksum import Checksum

    ranges.save(part, SIZE, Checksum("sha256", SHA), done)
    _verified(_download(models, _config(runs)))
    asked = [start for start, _ in _cdn_gets(hub)]
    assert 300_000 in asked and PIECE * 3 + 200_000 in asked
    # No request, a run of pieces included, asks for a byte on disk; together they ask for every other byte.
    spans = _cdn_spans(hub)
    assert all(end <= a or b <= start for start, end in spans for a, b in done), spans
    assert sum(end - start for start, end in spans) == SIZE - ranges.covered(done)


@LAYOUTS
def test_corrupt_bytes_are_fetched_again_and_never_listed(hub: FakeHub, models: Path, runs: bool) -> None:
    hub.corrupt(match=FILE)
    target = models / "segorg" / "Seg-GGUF" / FILE
    seen = _Watcher(target)
    try:
        _verified(_download(models, _config(runs)))
    finally:
        bad = seen.stop()
    assert bad == [], "a file was in place before its sha256 matched"
    # Every request twice: the hash cannot say which one was bad.
    assert len(_cdn_gets(hub)) == (4 if runs else 16)


@LAYOUTS
def test_corrupt_twice_fails_and_leaves_nothing(hub: FakeHub, models: Path, runs: bool) -> None:
    hub.corrupt(times=-1, match=FILE)  # every response: both passes are bad
    with pytest.raises(ChecksumError, match=r"downloaded 2 times"):
        _download(models, _config(runs))
    folder = models / "segorg" / "Seg-GGUF"
    assert not folder.exists() or list(folder.iterdir()) == []


class _Watcher:
    """Reads the final path over and over while the download runs: whatever is there must match."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.bad: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            try:
                data = self.target.read_bytes()
            except OSError:
                continue
            if hashlib.sha256(data).hexdigest() != SHA:
                self.bad.append(f"{len(data)} bytes")

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join()
        return self.bad


@pytest.fixture
def manager(hub: FakeHub, models: Path, tmp_path: Path) -> Iterator[DownloadManager]:
    m = DownloadManager(lambda: models, store=QueueStore(tmp_path / "queue.json"), config=SEGMENTED)
    m.start()
    yield m
    m.shutdown()


def test_manager_progress_carries_the_segments_and_pause_resume_keeps_them(
    manager: DownloadManager, hub: FakeHub, models: Path
) -> None:
    hub.throttle(500_000)
    events: list[ItemProgress] = []
    manager.subscribe(lambda e: events.append(e) if isinstance(e, ItemProgress) else None)
    item = manager.enqueue(REPO_ID, [FILE])
    part = models / "segorg" / "Seg-GGUF" / (FILE + ".part")
    _wait_for(lambda: any(len(e.segments) == 8 and e.done_bytes > 0 for e in events))
    manager.pause(item.id)
    _wait_for(lambda: (manager.get(item.id) or item).state == ItemState.PAUSED)
    on_disk = ranges.load(part, SIZE, _checksum())
    assert on_disk and ranges.covered(on_disk) == manager.progress(item.id).done_bytes > 0
    hub.throttle(0)
    hub.clear_requests()
    manager.resume(item.id)
    assert manager.wait_idle(60)
    assert (manager.get(item.id) or item).state == ItemState.DONE
    _verified(models / "segorg" / "Seg-GGUF" / FILE)
    asked = [start for start, _ in _cdn_gets(hub)]
    assert asked and all(not (a <= s < b) for s in asked for a, b in on_disk)


def _checksum() -> Any:
    from app.downloads.checksum import Checksum

    return Checksum("sha256", SHA)


def _wait_for(condition: Any, timeout: float = 30) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        done.wait(0.02)
    raise AssertionError("condition not met in time")
