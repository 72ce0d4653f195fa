"""One progress line on a terminal (rewritten in place) or a line every few seconds into a pipe or log."""

from __future__ import annotations

import time
from typing import TextIO

from app.core.units import format_bytes, format_duration, format_rate
from app.downloads.speed import SpeedMeter, eta_seconds


class ProgressLine:
    def __init__(self, stream: TextIO, what: str) -> None:
        self._stream = stream
        self._what = what
        self._tty = stream.isatty()
        self._interval = 0.2 if self._tty else 2.0
        self._meter = SpeedMeter()
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        speed = self._meter.sample(done, now)
        if now - self._last < self._interval and done < total:
            return
        self._last = now
        percent = 100.0 * done / total if total else 100.0
        eta = eta_seconds(done, total, speed)
        left = f", {format_duration(eta)} left" if eta is not None and done < total else ""
        amount = f"{format_bytes(done)} of {format_bytes(total)}"
        text = f"{self._what}: {percent:5.1f}%  {amount}  {format_rate(speed)}{left}"
        if self._tty:
            self._stream.write("\r\x1b[K" + text)
            self._shown = True
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = False
