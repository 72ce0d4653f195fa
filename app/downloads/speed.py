"""Speed over a sliding window, so the readout moves (and drops to zero) while bytes do or do not arrive."""

from __future__ import annotations

import threading
import time
from collections import deque


class SpeedMeter:
    """Thread-safe: a worker resets it when a transfer (re)starts while a ticker samples it."""

    def __init__(self, window: float = 3.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def reset(self, done: int, now: float | None = None) -> None:
        with self._lock:
            self._samples.clear()
            self._samples.append((time.monotonic() if now is None else now, done))

    def sample(self, done: int, now: float | None = None) -> float:
        """Record the byte count now; returns bytes per second over the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._samples.append((now, done))
            while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
                self._samples.popleft()
            first_time, first_done = self._samples[0]
        elapsed = now - first_time
        return max(0.0, (done - first_done) / elapsed) if elapsed > 0 else 0.0


def eta_seconds(done: int, total: int | None, speed: float) -> float | None:
    if total is None or speed <= 0:
        return None
    return max(0.0, (total - done) / speed)
