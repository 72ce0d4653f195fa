"""The connection ramp: how many connections a file gets, from the combined rate alone (no network)."""

from __future__ import annotations

from collections.abc import Callable

from app.downloads.ramp import FAST_ENOUGH, Ramp
from app.downloads.segments import Board

MIB = 1 << 20


def _drive(ramp: Ramp, rate: Callable[[int], float], seconds: float = 10.0, tick: float = 0.25) -> list[int]:
    """Feed the ramp what a link with `rate(connections)` bytes/s delivers; the targets it chose, tick by tick."""
    now, done, seen = 0.0, 0.0, []
    while now < seconds - 1e-9:
        now += tick
        done += rate(ramp.target) * tick
        seen.append(ramp.observe(now, int(done)))
    return seen


def test_a_link_limited_per_connection_gets_every_connection() -> None:
    ramp = Ramp.starting(2, 8)
    seen = _drive(ramp, lambda n: n * 10e6)
    assert seen[0] == 2 and seen[-1] == 8 and ramp.settled
    assert sorted(set(seen)) == [2, 4, 8]  # doubled, never more than the setting


def test_a_link_that_gains_nothing_goes_back_to_the_few_connections_it_started_with() -> None:
    ramp = Ramp.starting(2, 8)
    seen = _drive(ramp, lambda n: 150e6)  # below FAST_ENOUGH: a doubling is worth a try
    assert 4 in seen  # it tried...
    assert seen[-1] == 2 and ramp.settled  # ...and undid the doubling that did not pay
    assert 8 not in seen


def test_a_link_that_saturates_keeps_the_last_count_that_paid() -> None:
    ramp = Ramp.starting(2, 16)
    seen = _drive(ramp, lambda n: min(n, 4) * 10e6)
    assert seen[-1] == 4 and ramp.settled and 16 not in seen


def test_a_fast_link_is_measured_in_a_fraction_of_the_time() -> None:
    """At 1 GiB/s a step ends once 32 MiB came, not after the whole window: a 1 GiB file is not half done
    before the count settles."""
    ramp = Ramp.starting(2, 8)
    _drive(ramp, lambda n: 1 << 30, seconds=0.5, tick=0.05)
    assert ramp.settled and ramp.target == 2
    slow = Ramp.starting(2, 8)
    _drive(slow, lambda n: 20e6, seconds=0.5, tick=0.05)  # 20 MB/s: the full window, still measuring
    assert not slow.settled


def test_starting_at_the_setting_never_changes_anything() -> None:
    ramp = Ramp.starting(8, 8)
    assert _drive(ramp, lambda n: n * 1e6) == [8] * 40
    assert ramp.settled and not ramp.fast  # one measurement, only to say whether the link is fast
    assert Ramp.starting(4, 1).target == 1
    fast = Ramp.starting(8, 8)
    assert _drive(fast, lambda n: 600e6) == [8] * 40 and fast.fast


def test_a_fast_link_stops_the_ramp_and_is_marked_fast() -> None:
    flat = Ramp.starting(2, 8)
    seen = _drive(flat, lambda n: FAST_ENOUGH * 1.2)
    assert set(seen) == {2} and flat.settled and flat.fast  # no doubling tried: more connections only cost CPU
    per_connection = Ramp.starting(2, 8)
    seen = _drive(per_connection, lambda n: n * FAST_ENOUGH * 0.4)  # 2: below it, 4: above it
    assert sorted(set(seen)) == [2, 4] and per_connection.settled and per_connection.fast
    slow = Ramp.starting(2, 8)
    _drive(slow, lambda n: n * 10e6)
    assert not slow.fast


def test_a_connection_above_the_limit_takes_no_more_work() -> None:
    board = Board(8 * MIB, [], 8, min_steal=256 * 1024, idle_steal=60.0)
    board.set_limit(2)
    assert board.take(2, wait=0.01) is None  # retired: it stops after the piece it held
    first = board.take(1)
    assert first is not None and first.start == 0
    board.set_limit(4)
    third = board.take(3)
    assert third is not None and third.start == MIB
