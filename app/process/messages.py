"""Messages every child sends besides its own (its domain's frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogLine:
    """One Python log record of the child, relayed into the app's logging."""

    logger: str
    level: int
    message: str
