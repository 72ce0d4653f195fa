"""The fake Hub's per-connection throttle and its ranged faults (what the segmented download tests stand on)."""

from __future__ import annotations

import threading

import httpx2
import pytest

from tests.fakehub import FakeHub, FakeRepo
from tests.fakehub import throttle as throttle_module
from tests.fakehub.throttle import Pacer

DATA = bytes(range(256)) * 4096  # 1 MiB
REPO_ID = "org/Throttle"
FILE = "notes.bin"  # not LFS-sized: served by the Hub port itself


class _Clock:
    """Time that moves only when the pacer waits: the waits add up to exactly what pacing asked for."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += seconds
        return False


def test_pacer_spends_size_over_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(throttle_module.time, "monotonic", clock.monotonic)
    stopping = threading.Event()
    monkeypatch.setattr(stopping, "wait", clock.wait)
    pacer = Pacer(1_000_000, stopping)
    sent: list[int] = []
    pacer.send(lambda piece: sent.append(len(piece)), DATA)
    assert sum(sent) == len(DATA) and max(sent) <= throttle_module.PIECE
    assert clock.now - 100.0 == pytest.approx(len(DATA) / 1_000_000)


@pytest.fixture
def hub(fake_hub_empty: FakeHub) -> FakeHub:
    fake_hub_empty.add_repo(FakeRepo(REPO_ID)).add_file(FILE, DATA, lfs=False)
    return fake_hub_empty


def _get(hub: FakeHub, first: int | None = None, last: int | None = None) -> httpx2.Response:
    headers = {} if first is None else {"Range": f"bytes={first}-{'' if last is None else last}"}
    return httpx2.get(f"{hub.url}/{REPO_ID}/resolve/main/{FILE}", headers=headers, timeout=10)


def test_throttled_bodies_arrive_whole_and_ranged(hub: FakeHub) -> None:
    hub.throttle(50_000_000)
    assert _get(hub).content == DATA
    part = _get(hub, 1000, 300_000)
    assert part.status_code == 206 and part.content == DATA[1000:300_001]


def test_faults_hit_only_the_range_that_holds_their_offset(hub: FakeHub) -> None:
    hub.fail_covering(500_000, 1, 429, retry_after=3)
    assert _get(hub, 0, 499_999).status_code == 206  # does not hold byte 500000: untouched
    limited = _get(hub, 400_000, 599_999)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    hub.truncate_at(700_000)
    short = _get(hub, 600_000)
    assert short.status_code == 206 and short.content == DATA[600_000:700_000]
    assert short.headers["Content-Range"] == f"bytes 600000-699999/{len(DATA)}"


def test_drop_at_closes_the_connection_at_that_byte(hub: FakeHub) -> None:
    hub.drop_at(300_000)
    with pytest.raises(httpx2.RemoteProtocolError):
        _get(hub, 100_000)
    assert _get(hub, 100_000).content == DATA[100_000:]  # once


def test_ranges_can_be_ignored(hub: FakeHub) -> None:
    hub.ranges_supported = False
    whole = _get(hub, 1000)
    assert whole.status_code == 200 and whole.content == DATA
