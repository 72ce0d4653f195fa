"""A job child's last word (the quantize and publish jobs): what its work returned, or the error that ended it,
then its channel closes. One place decides how a bug inside a job reaches the app: a traceback in the log and a
clear end the app can show."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from app.core.errors import AppError
from app.process.channel import Channel


@dataclass(frozen=True, slots=True)
class JobFailed:
    """The job's end when it did not finish: the error itself (a Cancelled one when the user stopped it)."""

    error: AppError

    @property
    def message(self) -> str:
        return str(self.error)


def serve_job(channel: Channel, work: Callable[[], object], error_type: type[AppError], log: logging.Logger,
              what: str = "the job") -> None:
    """Send what `work` returns, or JobFailed: its AppError as it is, any other exception as an `error_type`
    (a bug); then close the channel."""
    try:
        channel.send(work())
    except AppError as exc:
        channel.send(JobFailed(exc))
    except Exception as exc:  # a bug: into the log with its traceback, and a clear end for the app
        log.exception("%s failed", what)
        channel.send(JobFailed(error_type(f"unexpected {type(exc).__name__}: {exc}", hint="see the log")))
    finally:
        channel.close()


__all__ = ["JobFailed", "serve_job"]
