"""Retrying a transfer: capped exponential back-off, the server's Retry-After, and giving up after a streak."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from app.core.errors import DownloadError, TransientError
from app.downloads.transfer import StopToken

log = logging.getLogger("app.downloads")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8  # in a row without a single new byte
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 300.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        if retry_after is not None:
            return max(backoff, min(retry_after, self.max_retry_after))
        return backoff


def with_retries(
    action: Callable[[], T],
    policy: RetryPolicy,
    stop: StopToken,
    on_retry: Callable[[str, float], None] | None = None,
    progress: Callable[[], int] = lambda: 0,
) -> T:
    """Run `action`, retrying TransientError with capped exponential backoff; progress resets the count."""
    failures = 0
    while True:
        mark = progress()
        try:
            return action()
        except TransientError as exc:
            failures = 1 if progress() > mark else failures + 1
            if failures >= policy.max_attempts:
                raise DownloadError(
                    f"Gave up after {failures} attempts in a row: {exc}",
                    hint="the part already downloaded is kept; press Retry to resume",
                ) from exc
            delay = policy.delay(failures, exc.retry_after)
            log.warning("transient failure (%s); retrying in %.1f s", exc, delay)
            if on_retry is not None:
                on_retry(str(exc), delay)
            if stop.wait(delay):
                stop.raise_if_stopped()
