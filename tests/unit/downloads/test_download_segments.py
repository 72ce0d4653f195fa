"""Segment planning, work stealing and the record of done ranges (no network: the board and the sidecar)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from app.core.errors import DownloadError
from app.downloads import ranges
from app.downloads.checksum import Checksum
from app.downloads.layout import safe_relative_name
from app.downloads.segments import Board, piece_size, segment_count

SUM = Checksum("sha256", "ab" * 32)
MIB = 1 << 20


def test_segment_count_gives_small_files_fewer_connections() -> None:
    assert segment_count(256 * MIB, 8, 16 * MIB) == 8
    assert segment_count(40 * MIB, 8, 16 * MIB) == 2
    assert segment_count(20 * MIB, 8, 16 * MIB) == 1
    assert segment_count(10 * MIB, 8, 16 * MIB) == 1
    assert segment_count(256 * MIB, 1, 16 * MIB) == 1


def test_pieces_are_several_per_connection_but_never_below_the_minimum() -> None:
    assert piece_size(256 * MIB, 8, 16 * MIB) == 16 * MIB
    assert piece_size(20 << 30, 8, 16 * MIB) == (20 << 30) // 64
    assert piece_size(40 * MIB, 2, 16 * MIB) == 16 * MIB


def test_spans_merge_gaps_and_prefix() -> None:
    done = ranges.merge([(10, 20), (0, 5), (5, 8), (19, 25), (30, 30)])
    assert done == [(0, 8), (10, 25)]
    assert ranges.gaps(done, 40) == [(8, 10), (25, 40)]
    assert ranges.covered(done) == 23
    assert ranges.prefix_end(done) == 8
    assert ranges.prefix_end([(3, 9)]) == 0
    assert ranges.gaps([], 7) == [(0, 7)]


def test_record_round_trips_and_refuses_another_file(tmp_path: Path) -> None:
    part = tmp_path / "m.gguf.part"
    ranges.save(part, 100, SUM, [(0, 10), (50, 60)])
    assert ranges.ranges_path(part).name == "m.gguf.part.ranges"
    assert ranges.load(part, 100, SUM) == [(0, 10), (50, 60)]
    assert ranges.load(part, 101, SUM) is None
    assert ranges.load(part, 100, Checksum("sha256", "cd" * 32)) is None
    ranges.ranges_path(part).write_text(json.dumps({"size": 100, "checksum": str(SUM), "done": [[90, 120]]}))
    assert ranges.load(part, 100, SUM) is None  # a range outside the file
    ranges.ranges_path(part).write_text("{not json")
    assert ranges.load(part, 100, SUM) is None


def test_bytes_done_reads_the_record_not_the_preallocated_length(tmp_path: Path) -> None:
    part = tmp_path / "m.gguf.part"
    part.write_bytes(bytes(100))
    assert ranges.bytes_done(part) == 100  # a single-stream part: its length
    ranges.save(part, 100, SUM, [(0, 10), (50, 60)])
    assert ranges.bytes_done(part) == 20


def test_to_single_stream_keeps_only_the_contiguous_prefix(tmp_path: Path) -> None:
    part = tmp_path / "m.gguf.part"
    part.write_bytes(b"x" * 100)
    ranges.save(part, 100, SUM, [(0, 30), (50, 60)])
    ranges.to_single_stream(part)
    assert part.stat().st_size == 30
    assert not ranges.ranges_path(part).exists()


def test_hub_names_that_collide_with_a_record_are_refused() -> None:
    with pytest.raises(DownloadError, match="reserved for partial downloads"):
        safe_relative_name("model.gguf.part.ranges")


def _board(size: int = 8 * MIB, done: list[tuple[int, int]] | None = None, n: int = 4) -> Board:
    return Board(size, done or [], n, min_steal=256 * 1024, idle_steal=60.0)


def test_plan_splits_what_is_missing_into_one_piece_per_connection() -> None:
    board = _board(done=[(0, 2 * MIB)])
    spans = [(s.start, s.end, s.state) for s in board.segments]
    assert spans[0] == (0, 2 * MIB, "done")
    half = MIB // 2
    assert [(a, b) for a, b, _ in spans[1:]] == [
        (2 * MIB, 3 * MIB + half),
        (3 * MIB + half, 5 * MIB),
        (5 * MIB, 6 * MIB + half),
        (6 * MIB + half, 8 * MIB),
    ]
    assert board.done_bytes() == 2 * MIB
    assert board.frontier() == 2 * MIB


def test_connections_take_waiting_segments_then_steal_half_a_tail() -> None:
    board = _board(n=2)
    first, second = board.take(0), board.take(1)
    assert first is not None and second is not None
    assert (first.start, second.start) == (0, 4 * MIB)
    n = board.reserve(first, MIB)
    board.advance(first, n)
    board.advance(second, board.reserve(second, 3 * MIB))
    thief = board.take(2)  # nothing waits: the tail that would finish last is split
    assert thief is not None
    assert (thief.start, thief.end) == (MIB + (3 * MIB) // 2, 4 * MIB)
    assert first.end == thief.start
    assert board.steals == 1


def test_a_thief_never_takes_bytes_already_being_written() -> None:
    board = _board(n=1)
    seg = board.take(0)
    assert seg is not None
    board.reserve(seg, 2 * MIB)  # on its way to the disk
    thief = board.take(1)
    assert thief is not None and thief.start == 2 * MIB + (6 * MIB) // 2
    board.advance(seg, 2 * MIB)
    # The owner now wants only up to the thief's start; the rest of what it receives is dropped.
    assert board.reserve(seg, 10 * MIB) == thief.start - 2 * MIB


def test_a_silent_connection_loses_its_whole_tail() -> None:
    board = Board(8 * MIB, [], 1, min_steal=256 * 1024, idle_steal=0.0)
    seg = board.take(0)
    assert seg is not None
    board.advance(seg, board.reserve(seg, MIB))
    seg.last_byte = time.monotonic() - 1
    thief = board.take(1)
    assert thief is not None and (thief.start, thief.end) == (MIB, 8 * MIB)
    assert seg.finished and seg.state == "done"
    assert board.reserve(seg, 4096) == 0


def test_short_tails_stay_and_take_returns_none_when_all_is_done() -> None:
    board = _board(size=MIB, n=1)
    seg = board.take(0)
    assert seg is not None
    board.advance(seg, board.reserve(seg, MIB - 100_000))
    stolen: list[object] = []
    waiter = threading.Thread(target=lambda: stolen.append(board.take(1, wait=0.01)))
    waiter.start()  # a tail this short stays with its connection: the idle one waits...
    waiter.join(0.3)
    assert waiter.is_alive() and not stolen
    board.advance(seg, board.reserve(seg, 100_000))
    waiter.join(10)
    assert board.complete() and stolen == [None]  # ...and is let go when everything is on disk


def test_frontier_stops_at_the_first_hole() -> None:
    board = _board(n=4)
    segs = [board.take(i) for i in range(4)]
    assert all(s is not None for s in segs)
    s0, s1, s2, _ = segs
    assert s0 and s1 and s2
    board.advance(s1, board.reserve(s1, 2 * MIB))
    assert board.frontier() == 0
    board.advance(s0, board.reserve(s0, MIB))
    assert board.frontier() == MIB
    board.advance(s0, board.reserve(s0, MIB))
    assert board.frontier() == 4 * MIB
    board.advance(s2, board.reserve(s2, 5))
    assert board.frontier() == 4 * MIB + 5
    assert board.done_spans() == [(0, 4 * MIB + 5)]


def test_on_a_fast_link_a_connection_takes_its_share_of_the_waiting_pieces_as_one_run() -> None:
    board = Board(16 * MIB, [], 4, min_steal=256 * 1024, idle_steal=60.0, piece=MIB)  # 16 pieces
    board.set_limit(4)
    first = board.take(0)
    assert first is not None and (first.start, first.end) == (0, MIB)  # one piece per request until told
    board.merge_runs()
    second = board.take(1)  # 15 waiting, 3 connections without work: a third of them
    assert second is not None and (second.start, second.end) == (MIB, 6 * MIB)
    third = board.take(2)
    assert third is not None and (third.start, third.end) == (6 * MIB, 11 * MIB)
    board.set_limit(2)
    assert board.take(3, wait=0.01) is None  # retired
    fourth = board.take(0)  # its piece is done; the only allowed connection without work takes the rest
    assert fourth is not None and (fourth.start, fourth.end) == (11 * MIB, 16 * MIB)
    assert len({s.index for s in board.segments}) == len(board.segments)  # numbers stay unique
    board.advance(second, board.reserve(second, 3 * MIB))
    assert board.done_spans() == [(MIB, 4 * MIB)]
    assert [(s.start, s.end) for s in board.segments] == [
        (0, MIB),
        (MIB, 6 * MIB),
        (6 * MIB, 11 * MIB),
        (11 * MIB, 16 * MIB),
    ]


def test_a_run_never_swallows_a_piece_that_has_bytes_on_disk_or_an_owner() -> None:
    board = Board(8 * MIB, [(3 * MIB, 3 * MIB + 10)], 1, min_steal=256 * 1024, idle_steal=60.0, piece=MIB)
    board.set_limit(1)
    board.merge_runs()
    run = board.take(0)
    assert run is not None and (run.start, run.end) == (0, 3 * MIB)  # stops at the bytes on disk
    board.advance(run, board.reserve(run, MIB))
    board.release(run)  # a failed run goes back with its bytes: no later run may cover them again
    again = board.take(0)
    assert again is run and (again.pos, again.end) == (MIB, 3 * MIB)
    board.set_limit(3)
    nxt = board.take(1)  # 5 pieces waiting, 2 connections without work
    assert nxt is not None and (nxt.start, nxt.end) == (3 * MIB + 10, 6 * MIB + 10)
    assert board.done_spans() == [(0, MIB), (3 * MIB, 3 * MIB + 10)]


def test_a_run_stops_before_a_released_piece_that_kept_its_bytes() -> None:
    board = Board(4 * MIB, [], 1, min_steal=256 * 1024, idle_steal=60.0, piece=MIB)
    board.set_limit(2)
    first, second = board.take(0), board.take(1)
    assert first is not None and second is not None
    board.advance(second, board.reserve(second, 10))
    board.release(second)  # its connection failed: the piece waits again with 10 bytes on disk
    board.release(first)
    board.merge_runs()
    run = board.take(0)
    assert run is first and (run.start, run.end) == (0, MIB)  # a run over it would ask for those bytes again
    assert board.done_spans() == [(MIB, MIB + 10)]
    nxt = board.take(0)
    assert nxt is second and (nxt.pos, nxt.end) == (MIB + 10, 3 * MIB)  # it may lead a run of its own


def test_a_run_asks_for_no_more_than_its_most() -> None:
    board = Board(64 * MIB, [], 1, min_steal=256 * 1024, idle_steal=60.0, piece=MIB)
    board.set_limit(1)
    board.merge_runs(most=5 * MIB + MIB // 2)
    run = board.take(0)
    assert run is not None and (run.start, run.end) == (0, 5 * MIB)  # the share would be all 64 pieces
