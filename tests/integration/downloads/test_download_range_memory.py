"""A host that ignored Range once is remembered: the next file from it starts as one stream, with no ranged try."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from app.downloads.job import DownloadConfig, RetryPolicy, run_job
from app.downloads.range_hosts import RangeHosts
from app.downloads.transfer import StopToken, Timeouts
from tests.fakehub import FakeHub, FakeRepo
from tests.support.quiet_progress import QuietProgress

REPO_ID = "norange/NoRange-GGUF"
FILES = {name: random.Random(name).randbytes(4 << 20) for name in ("NoRange-Q4_K_M.gguf", "NoRange-Q8_0.gguf")}
CONFIG = DownloadConfig(
    retry=RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2),
    timeouts=Timeouts(connect=5, stall=5),
    disk_margin=0,
    segments=8,
    min_segment=512 << 10,  # 4 MiB files are fetched in segments
)


@pytest.fixture
def hub(fake_hub_empty: FakeHub) -> FakeHub:
    repo = fake_hub_empty.add_repo(FakeRepo(REPO_ID))
    for name, data in FILES.items():
        repo.add_file(name, data)
    fake_hub_empty.ranges_supported = False
    return fake_hub_empty


def _fetch(name: str, models: Path) -> None:
    """Download one file; it must end verified."""
    path = run_job(REPO_ID, [name], "main", models, StopToken(), QuietProgress(), CONFIG)[0]
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(FILES[name]).digest()


def _cdn_ranges(hub: FakeHub, name: str) -> list[str | None]:
    return [r.range for r in hub.requests_for(name, method="GET") if r.server == "cdn"]


def test_the_next_file_from_a_host_that_ignores_range_starts_as_one_stream(hub: FakeHub, tmp_path: Path) -> None:
    first, second = FILES
    _fetch(first, tmp_path / "models")
    tried = _cdn_ranges(hub, first)
    assert any(tried) and tried[-1] is None  # ranged tries, then one stream
    assert RangeHosts().ignores(hub.url)

    _fetch(second, tmp_path / "models")
    assert _cdn_ranges(hub, second) == [None]  # no wasted ranged try: one GET, from byte 0


def test_a_host_that_serves_ranges_is_not_remembered(hub: FakeHub, tmp_path: Path) -> None:
    hub.ranges_supported = True
    first, _ = FILES
    _fetch(first, tmp_path / "models")
    assert all(_cdn_ranges(hub, first)) and not RangeHosts().ignores(hub.url)
