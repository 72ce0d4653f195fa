"""Server-sent events read from lines (the WHATWG rules a chat client needs): `data:` lines joined by
newlines, an `event:` name, comments (keep-alives such as `: ping`) skipped, a blank line ends an event."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

DONE = "[DONE]"


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str = "message"


def parse_events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events in order; an event the stream ends in the middle of (no blank line after it) is dropped, as
    browsers do: a cut-off JSON payload must not be taken for a whole one."""
    data: list[str] = []
    name = ""
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent("\n".join(data), name or "message")
            data, name = [], ""
            continue
        if line.startswith(":"):
            continue  # a comment: keep-alive
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        # id and retry mean nothing to a one-shot reply
