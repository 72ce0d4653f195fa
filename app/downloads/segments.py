"""The segments of one file and who fetches which: planning, handing out work, stealing a slow tail.

Segments partition [0, size): each has a start, a position (bytes before it are on disk) and an end that a
thief may move down. The file is cut into more pieces than there are connections, handed out in file order:
the bytes on disk then grow from the front, so the sha256 (which only takes bytes in order) runs right behind
the transfer instead of waiting for the first of N long segments to finish. A connection that runs out of
work takes the tail of the segment that would finish last (half of it, or all of it when that segment has
gone silent), so the end of a download never waits on one slow stream. All state changes happen under one
lock; writers reserve the bytes they are about to write, so a thief never takes bytes already on their way
to the disk. On a fast link (`merge_runs`) a connection takes a run of adjacent waiting pieces as one segment,
its fair share of what is left: each request costs a round trip and a new connection, which on such a link
is time the bytes would have needed; the tail is still split by stealing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.downloads.items import SegmentProgress
from app.downloads.ranges import Span, covered, gaps, merge
from app.downloads.speed import SpeedMeter

PIECES_PER_CONNECTION = 8
# The most one run of pieces asks for. The hash takes bytes in file order, so what a run behind the front one
# fetched is read back only once the front reaches it: a run as long as half the file left the hash 1 s behind
# at the end of 1 GiB here. At 250 MB/s, 64 MiB is a quarter second of bytes per request.
RUN_MOST = 64 << 20
NO_LIMIT = 1 << 16


def segment_count(size: int, wanted: int, min_segment: int) -> int:
    """How many connections a file of `size` bytes gets: fewer for small files, 1 below two minimum segments."""
    return max(1, min(wanted, size // max(1, min_segment)))


def piece_size(size: int, connections: int, min_segment: int) -> int:
    """The bytes one request asks for: at least `min_segment`, and few enough requests per file (each costs a
    redirect and a new connection) that a large file on a far server loses little to them."""
    return max(min_segment, -(-size // max(1, connections * PIECES_PER_CONNECTION)))


@dataclass
class Segment:
    index: int
    start: int
    end: int
    pos: int
    writing: int = 0  # bytes reserved by the writer, not yet counted in pos
    owner: int | None = None  # the connection working on it
    state: str = "waiting"  # waiting | active | retrying | done
    last_byte: float = field(default_factory=time.monotonic)
    meter: SpeedMeter = field(default_factory=SpeedMeter)

    @property
    def remaining(self) -> int:
        return self.end - self.pos - self.writing

    @property
    def finished(self) -> bool:
        return self.pos >= self.end


class Board:
    """Thread-safe: connections call `take`, `reserve`, `advance`; the monitor reads `done`, `frontier`."""

    def __init__(
        self,
        size: int,
        done: Sequence[Span],
        connections: int,
        *,
        min_steal: int,
        idle_steal: float,
        piece: int = 0,
    ) -> None:
        self.size = size
        self.min_steal = min_steal
        self.idle_steal = idle_steal
        self.cond = threading.Condition()
        self.segments: list[Segment] = []
        self.steals = 0
        self.limit = NO_LIMIT  # connections allowed to take work; one with a higher index stops (see ramp.py)
        self.runs = False  # take a run of adjacent waiting pieces per request (merge_runs)...
        self.run_most = RUN_MOST  # ...of at most this many bytes
        self._closed = False
        self._next_index = 0  # segment numbers stay unique when runs absorb pieces
        merged = merge(done)
        for start, end in merged:
            self._add(start, end, end, "done")
        todo = gaps(merged, size)
        missing = size - covered(merged)
        # Pieces of what is missing (by default one per connection); a gap a little longer stays whole.
        piece = max(1, piece or -(-missing // max(1, connections)))
        for start, end in todo:
            at = start
            while at < end:
                stop = end if end - at < piece + piece // 2 else at + piece
                self._add(at, stop, at, "waiting")
                at = stop
        self.segments.sort(key=lambda s: s.start)

    def _add(self, start: int, end: int, pos: int, state: str) -> Segment:
        seg = Segment(self._new_index(), start, end, pos, state=state)
        seg.meter.reset(pos)
        self.segments.append(seg)
        return seg

    # ---- connections ----------------------------------------------------------------------------------
    def take(self, worker: int, wait: float = 0.1) -> Segment | None:
        """The next segment for `worker`: a waiting one, else a stolen tail; None once everything is done
        or the board is closed. Blocks while there is nothing to take but others are still working."""
        with self.cond:
            while not self._closed and worker < self.limit:
                for at, seg in enumerate(self.segments):
                    if seg.state == "waiting" and not seg.finished:
                        if self.runs:
                            self._absorb_run(at, worker)
                        seg.owner, seg.state, seg.last_byte = worker, "active", time.monotonic()
                        seg.meter.reset(seg.pos)
                        return seg
                if all(s.finished for s in self.segments):
                    return None
                stolen = self._steal(worker)
                if stolen is not None:
                    return stolen
                self.cond.wait(wait)
            return None

    def _absorb_run(self, at: int, worker: int) -> None:
        """Grow the waiting segment at `at` over the waiting pieces right after it, up to an equal share of the
        waiting pieces among the allowed connections that hold no work (so each of those still finds some)."""
        seg = self.segments[at]
        waiting = sum(1 for s in self.segments if s.state == "waiting" and not s.finished)
        busy = {s.owner for s in self.segments if s.state in ("active", "retrying") and s.owner != worker}
        working = len({o for o in busy if o is not None and o < self.limit})
        idle = max(1, min(self.limit - working, waiting))
        share = -(-waiting // idle)
        taken = 1
        while taken < share and at + 1 < len(self.segments):
            following = self.segments[at + 1]
            if following.state != "waiting" or following.start != seg.end or following.pos != following.start:
                break
            if following.end - seg.pos > self.run_most:
                break
            seg.end = following.end
            del self.segments[at + 1]
            taken += 1

    def merge_runs(self, most: int = RUN_MOST) -> None:
        """From now on a connection takes a run of waiting pieces, up to `most` bytes, per request (see the
        module's note)."""
        with self.cond:
            self.runs, self.run_most = True, most

    def _new_index(self) -> int:
        self._next_index += 1
        return self._next_index - 1

    def _steal(self, worker: int) -> Segment | None:
        now = time.monotonic()
        best: Segment | None = None
        best_eta = -1.0
        for seg in self.segments:
            if seg.state not in ("active", "retrying") or seg.remaining <= 0:
                continue
            speed = seg.meter.sample(seg.pos, now)
            silent = now - seg.last_byte >= self.idle_steal
            if seg.remaining < 2 * self.min_steal and not silent:
                continue
            eta = float("inf") if silent or speed <= 0 else seg.remaining / speed
            if eta > best_eta or (eta == best_eta and best is not None and seg.remaining > best.remaining):
                best, best_eta = seg, eta
        if best is None:
            return None
        floor = best.pos + best.writing
        # Half the tail; all of it when the connection has gone silent.
        split = floor if now - best.last_byte >= self.idle_steal else floor + (best.end - floor) // 2
        thief = Segment(self._new_index(), split, best.end, split, owner=worker, state="active")
        thief.meter.reset(split)
        best.end = split
        if best.finished and not best.writing:
            best.state = "done"
        self.segments.append(thief)
        self.segments.sort(key=lambda s: s.start)
        self.steals += 1
        return thief

    def reserve(self, seg: Segment, count: int) -> int:
        """How many of `count` received bytes the segment still wants (a thief may have taken the rest)."""
        with self.cond:
            allowed = max(0, min(count, seg.end - seg.pos - seg.writing))
            seg.writing += allowed
            return allowed

    def unreserve(self, seg: Segment, count: int) -> None:
        with self.cond:
            seg.writing -= count

    def advance(self, seg: Segment, count: int) -> None:
        """`count` reserved bytes are written."""
        with self.cond:
            seg.writing -= count
            seg.pos += count
            seg.last_byte = time.monotonic()
            if seg.finished:
                seg.state = "done"
                self.cond.notify_all()

    def mark(self, seg: Segment, state: str) -> None:
        with self.cond:
            if not seg.finished:
                seg.state = state
            self.cond.notify_all()

    def release(self, seg: Segment) -> None:
        """The connection let go of an unfinished segment (it failed or was stopped): anyone may take it."""
        with self.cond:
            seg.owner = None
            seg.state = "done" if seg.finished else "waiting"
            self.cond.notify_all()

    def set_limit(self, connections: int) -> None:
        """Connections from index `connections` on stop once their piece is done (waiting ones at once)."""
        with self.cond:
            self.limit = max(1, connections)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self._closed = True
            self.cond.notify_all()

    # ---- the monitor --------------------------------------------------------------------------------------
    def done_spans(self) -> list[Span]:
        with self.cond:
            return merge((s.start, s.pos) for s in self.segments)

    def done_bytes(self) -> int:
        with self.cond:
            return sum(s.pos - s.start for s in self.segments)

    def frontier(self) -> int:
        """How far the file is on disk without a hole from byte 0."""
        with self.cond:
            at = 0
            for seg in self.segments:  # sorted by start, and they partition the file
                if seg.start > at:
                    break
                at = max(at, seg.pos)
                if seg.pos < seg.end:
                    break
            return at

    def complete(self) -> bool:
        with self.cond:
            return all(s.finished for s in self.segments)

    def wait(self, seconds: float) -> None:
        with self.cond:
            self.cond.wait(seconds)

    def snapshot(self) -> tuple[SegmentProgress, ...]:
        now = time.monotonic()
        with self.cond:
            segs = list(self.segments)
            rows = [(s.index, s.start, s.end, s.pos, s.state) for s in segs]
        out = []
        for (index, start, end, pos, state), seg in zip(rows, segs, strict=True):
            speed = seg.meter.sample(pos, now) if state != "done" else 0.0
            out.append(SegmentProgress(index, start, end, pos - start, speed, state))
        return tuple(out)
