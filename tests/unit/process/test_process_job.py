"""A job child's last word (app.process.job), which the quantize and publish jobs share: its result, its own
error as it is, a bug as the job's error type with the traceback in the log; the channel closed either way."""

from __future__ import annotations

import logging
from collections.abc import Callable
from multiprocessing import Pipe

import pytest

from app.core.errors import AppError, Cancelled, QuantizeError, ShareError
from app.process.channel import Channel
from app.process.job import JobFailed, serve_job

log = logging.getLogger("app.test")


def _last_word(work: Callable[[], object], error_type: type[AppError] = QuantizeError) -> object:
    app_end, child_end = Pipe()
    serve_job(Channel(child_end), work, error_type, log)
    message = app_end.recv()
    with pytest.raises(EOFError):  # closed after its one last message
        app_end.recv()
    return message


def test_the_result_is_sent_and_the_channel_closed() -> None:
    assert _last_word(lambda: ("done", 3)) == ("done", 3)


def test_an_app_error_arrives_as_itself() -> None:
    def stopped() -> None:
        raise Cancelled("publish cancelled", hint="publish again to resume")

    failed = _last_word(stopped, ShareError)
    assert isinstance(failed, JobFailed) and isinstance(failed.error, Cancelled)
    assert failed.error.hint == "publish again to resume" and failed.message == str(failed.error)


def test_a_bug_is_logged_and_ends_the_job_with_its_error_type(caplog: pytest.LogCaptureFixture) -> None:
    def bug() -> None:
        raise KeyError("stage")

    with caplog.at_level(logging.ERROR, logger="app.test"):
        failed = _last_word(bug, ShareError)
    assert isinstance(failed, JobFailed) and type(failed.error) is ShareError
    assert failed.error.message == "unexpected KeyError: 'stage'" and failed.error.hint == "see the log"
    assert "the job failed" in caplog.text and "KeyError" in caplog.text  # with its traceback
