"""Turning token pieces into text: UTF-8 split across tokens, and stop strings held back until decided."""

from __future__ import annotations

import codecs


class Utf8Stream:
    """Bytes in, complete characters out; an incomplete multi-byte sequence waits for the next piece."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> str:
        return self._decoder.decode(data)

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


class StopMatcher:
    """Finds stop strings in streamed text.

    Text that could still be the start of a stop string is held back, so a stop string never reaches the
    user, not even in part.
    """

    def __init__(self, stops: tuple[str, ...] | list[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._pending = ""
        self.hit: str | None = None

    def feed(self, text: str) -> str:
        """Returns the text that is safe to show now; sets `hit` when a stop string was found."""
        if not self._stops:
            return text
        pending = self._pending + text
        first = -1
        for stop in self._stops:
            index = pending.find(stop)
            if index != -1 and (first == -1 or index < first):
                first, self.hit = index, stop
        if first != -1:
            self._pending = ""
            return pending[:first]
        hold = 0
        for stop in self._stops:
            for size in range(min(len(stop) - 1, len(pending)), hold, -1):
                if pending.endswith(stop[:size]):
                    hold = size
                    break
        self._pending = pending[len(pending) - hold :] if hold else ""
        return pending[: len(pending) - hold]

    def flush(self) -> str:
        """At the end of generation the held-back text was not a stop string after all."""
        text, self._pending = self._pending, ""
        return text
