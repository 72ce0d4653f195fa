"""The connection ramp against the fake Hub: a file starts on two connections and gets more only where more
connections raise the combined rate (a link limited per connection), not where the link is limited as a whole."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from pathlib import Path

import pytest

from app.downloads.items import SegmentProgress
from app.downloads.job import DownloadConfig, RetryPolicy, run_job
from app.downloads.transfer import StopToken, Timeouts
from tests.fakehub import FakeHub, FakeRepo
from tests.support.quiet_progress import QuietProgress

REPO_ID = "ramporg/Ramp-GGUF"
FILE = "Ramp-Q4_K_M.gguf"
SIZE = 16 << 20
DATA = random.Random(22).randbytes(SIZE)
CONFIG = DownloadConfig(
    retry=RetryPolicy(max_attempts=4, base_delay=0.05, max_delay=0.2),
    timeouts=Timeouts(connect=5, stall=5),
    disk_margin=0,
    segments=8,
    min_segment=1 << 20,  # 16 pieces of 1 MiB
    min_steal=SIZE,  # no tail hand-over: only the ramp changes how many connections run
    idle_steal=60.0,
)


@pytest.fixture
def hub(fake_hub_empty: FakeHub) -> FakeHub:
    fake_hub_empty.add_repo(FakeRepo(REPO_ID)).add_file(FILE, DATA)
    return fake_hub_empty


def _connections(tmp_path: Path, config: DownloadConfig = CONFIG) -> list[int]:
    """Connections fetching at once, at each progress tick of a download that must end verified."""
    snapshots: list[tuple[SegmentProgress, ...]] = []
    path = run_job(
        REPO_ID, [FILE], "main", tmp_path / "models", StopToken(), QuietProgress(), config, on_segments=snapshots.append
    )[0]
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(DATA).digest()
    return [sum(1 for s in snap if s.state in ("active", "retrying")) for snap in snapshots if snap]


def test_a_link_limited_per_connection_ramps_from_two_to_every_connection(hub: FakeHub, tmp_path: Path) -> None:
    hub.throttle(1_000_000)  # per connection: each one added adds its own megabyte a second
    counts = _connections(tmp_path)
    assert counts[0] <= 2 and max(counts) == 8


def test_a_link_limited_as_a_whole_stays_on_few_connections(hub: FakeHub, tmp_path: Path) -> None:
    hub.throttle(4_000_000, shared=True)  # all connections together: more of them gain nothing
    counts = _connections(tmp_path)
    assert counts[0] <= 2 and max(counts) == 4  # it tried four...
    assert counts[-1] <= 2  # ...and went back to two once that did not pay
    assert 8 not in counts


def test_starting_with_every_connection_skips_the_ramp(hub: FakeHub, tmp_path: Path) -> None:
    hub.throttle(4_000_000, shared=True)
    assert max(_connections(tmp_path, replace(CONFIG, start_segments=8))) == 8


def test_a_link_measured_fast_stops_the_ramp_and_asks_for_runs_of_pieces(hub: FakeHub, tmp_path: Path) -> None:
    hub.throttle(4_000_000, shared=True)
    config = replace(CONFIG, fast_link=1_000_000)  # the first measurement (about 4 MB/s) counts as a fast link
    counts = _connections(tmp_path, config)
    assert max(counts) <= 2  # no doubling once the link is fast
    spans = []
    for record in hub.requests_for(FILE, method="GET"):
        if record.server == "cdn" and record.range:
            first, _, last = record.range.removeprefix("bytes=").partition("-")
            spans.append((int(first), int(last) + 1))
    assert sum(end - start for start, end in spans) == SIZE  # every byte asked for once...
    assert max(end - start for start, end in spans) > 1 << 20  # ...some of them in runs of several pieces
    assert len(spans) < 16
