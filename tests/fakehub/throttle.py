"""Pacing for the fake Hub: each response body is sent at no more than `rate` bytes per second, like a CDN edge
or a shaped link that limits every connection on its own (so N connections get N times it); `LinkPacer` is one
pace shared by all connections (a link limited as a whole, where more connections gain nothing)."""

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
            self._paid(len(piece))

    def send_file(self, sendfile: Callable[[int, int], int], start: int, end: int) -> None:
        """`sendfile(offset, count)` → bytes sent; paced like `send`."""
        at = start
        while at < end:
            sent = sendfile(at, min(PIECE * 4, end - at))
            if sent <= 0:
                return
            at += sent
            self._paid(sent)

    def _paid(self, count: int) -> None:
        self._sent += count
        self._wait()

    def _wait(self) -> None:
        ahead = self._start + self._sent / self.rate - time.monotonic()
        if ahead > 0:
            self._stopping.wait(ahead)


class LinkPacer(Pacer):
    """One pace for every connection together: each piece sent waits for its turn on the shared link."""

    def __init__(self, rate: float, stopping: threading.Event) -> None:
        super().__init__(rate, stopping)
        self._lock = threading.Lock()
        self._free_at = time.monotonic()

    def _paid(self, count: int) -> None:
        with self._lock:
            now = time.monotonic()
            self._free_at = max(self._free_at, now) + count / self.rate
            ahead = self._free_at - now
        if ahead > 0:
            self._stopping.wait(ahead)
