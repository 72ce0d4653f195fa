"""Per-connection pacing for the fake Hub: each response body is sent at no more than `rate` bytes per second,
like a CDN edge or a shaped link that limits every connection on its own (so N connections get N times it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

PIECE = 16 * 1024  # small pieces keep the pace smooth at low rates


class Pacer:
    def __init__(self, rate: float, stopping: threading.Event) -> None:
        self.rate = rate
        self._stopping = stopping
        self._start = time.monotonic()
        self._sent = 0

    def send(self, write: Callable[[memoryview], object], data: bytes | memoryview) -> None:
        view = memoryview(data)
        for at in range(0, len(view), PIECE):
            piece = view[at : at + PIECE]
            write(piece)
            self._sent += len(piece)
            self._wait()

    def send_file(self, sendfile: Callable[[int, int], int], start: int, end: int) -> None:
        """`sendfile(offset, count)` → bytes sent; paced like `send`."""
        at = start
        while at < end:
            sent = sendfile(at, min(PIECE * 4, end - at))
            if sent <= 0:
                return
            at += sent
            self._sent += sent
            self._wait()

    def _wait(self) -> None:
        ahead = self._start + self._sent / self.rate - time.monotonic()
        if ahead > 0:
            self._stopping.wait(ahead)
