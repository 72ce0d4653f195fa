"""How many connections one file gets: start with few and add more only while adding them pays.

A link limited per connection (CDN pacing, a long-distance TCP window, shaping) gains almost linearly from
every connection; a fast local link or a busy small machine gains nothing and pays for each extra thread in
CPU (receiving, locking, the hash falling behind). So the count starts low and doubles while the combined rate
over a measuring window rises by at least `gain` over the rate before the doubling; the first doubling that
does not pay is undone (its connections finish the piece they hold and stop) and the count stays there. A
combined rate of `FAST_ENOUGH` or more also stops it: such a link is not limited per connection, so more of them
only cost CPU, and it marks the link `fast` (segments.py then lets one request take a run of pieces).

Pure bookkeeping: the monitor feeds it (time, bytes on disk) and reads `target`.
"""

from __future__ import annotations

from dataclasses import dataclass

SETTLE = 0.15  # seconds after a change before measuring: new connections still connect and redirect
WINDOW = 0.35  # seconds of bytes per measurement (each step costs about SETTLE + WINDOW at the lower count)
GAIN = 1.5  # doubling the connections must raise the combined rate at least this much to be kept
# On a fast link a step ends sooner, once this many bytes came (and at least a quarter of WINDOW passed): a
# 1 GiB file at 1 GiB/s must not spend a second finding out that more connections do not help.
SETTLE_BYTES = 8 << 20
WINDOW_BYTES = 32 << 20
# Bytes per second over all connections at which the count stops growing. On the 2-core test VM two connections
# from the local fake Hub reach 0.8-1 GB/s and four gain nothing; a CDN that paces each stream is far below it.
FAST_ENOUGH = 250e6


@dataclass
class Ramp:
    most: int
    target: int
    settle: float = SETTLE
    window: float = WINDOW
    gain: float = GAIN
    settled: bool = False
    fast_enough: float = FAST_ENOUGH
    fast: bool = False  # a measured rate reached `fast_enough`
    _changed_at: float | None = None
    _changed_done: int = 0
    _mark: tuple[float, int] | None = None  # (time, bytes) where the current measurement began
    _before: float | None = None  # bytes per second with the count before the last doubling
    _previous: int = 0  # that count

    @classmethod
    def starting(cls, start: int, most: int) -> Ramp:
        most = max(1, most)
        start = max(1, min(start, most))
        # Starting at the most, the count never changes, but one measurement still says whether the link is fast.
        return cls(most=most, target=start)

    def observe(self, now: float, done: int) -> int:
        """Record the bytes on disk at `now` (seconds, monotonic); returns how many connections to run."""
        if self.settled:
            return self.target
        if self._changed_at is None:
            self._changed_at, self._changed_done = now, done
        if self._mark is None:
            if now - self._changed_at >= self.settle or done - self._changed_done >= SETTLE_BYTES:
                self._mark = (now, done)
            return self.target
        began, at = self._mark
        elapsed = now - began
        if elapsed < self.window and (elapsed < self.window / 4 or done - at < WINDOW_BYTES):
            return self.target
        rate = (done - at) / (now - began)
        self.fast = rate >= self.fast_enough
        if self._before is not None and rate < self._before * self.gain:
            self.target, self.settled = self._previous, True  # the last doubling did not pay: undo it
            return self.target
        if self.fast:
            self.settled = True
            return self.target
        self._before, self._previous = rate, self.target
        self.target = min(self.most, self.target * 2)
        self.settled = self.target >= self.most and self._previous == self.target
        self._changed_at, self._changed_done, self._mark = now, done, None
        return self.target
