"""The child-process layer with small real children (tests/support/children.py): errors keep their class,
native output never reaches our terminal, ggml's abort line and a kill become an Outcome."""

from __future__ import annotations

import logging
import os
import queue
import signal
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import GatedRepoError
from app.process.outcome import Outcome
from app.process.supervisor import Supervisor
from app.quantize import events as ev
from app.quantize.runner import JobProcess
from tests.support.children import NoOutputs

CHILDREN = "tests.support.children"


def _start(function: str, *args: Any) -> tuple[Supervisor, queue.Queue[Any]]:
    messages: queue.Queue[Any] = queue.Queue()
    child = Supervisor(f"{CHILDREN}:{function}", args, subject="the test child", on_message=messages.put)
    child.start()
    return child, messages


def test_an_app_error_raised_in_a_child_arrives_as_itself() -> None:
    job = JobProcess(f"{CHILDREN}:raising_job", NoOutputs())
    job.start()
    events = job.wait()
    failed = events[-1]
    assert isinstance(failed, ev.Failed)
    error = failed.error
    assert type(error) is GatedRepoError
    assert (error.repo_id, error.hint) == ("org/gated", "accept it on the Hub")
    assert str(error) == "You must accept the license (accept it on the Hub)"


def test_native_abort_is_explained_and_never_printed(capfd: pytest.CaptureFixture[str],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app")
    child, _ = _start("native_abort")
    outcome = child.wait(60)
    assert isinstance(outcome, Outcome)
    assert outcome.signal == "SIGABRT"
    assert outcome.native_errors == ("GGML_ASSERT(a == b) failed (ggml.c:1234)",)
    assert outcome.sentence == "llama.cpp stopped: GGML_ASSERT(a == b) failed (ggml.c:1234)"
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the child's fds 1 and 2 went to the log, not to ours
    native = [r.getMessage() for r in caplog.records if r.name == "app.native"]
    assert any("native text on fd 1" in line for line in native)
    assert any("python print on stdout" in line for line in native)


def test_sigkill_becomes_an_outcome_and_logs_are_relayed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app")
    child, messages = _start("sleeper")
    assert messages.get(timeout=60) == "ready"
    assert any(r.name == "app.test.child" and r.getMessage() == "child says hello" for r in caplog.records)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    outcome = child.wait(30)
    assert outcome is not None and outcome.signal == "SIGKILL" and not outcome.clean
    assert outcome.sentence == "The test child was killed (SIGKILL)"


def test_killed_job_is_failed_with_its_outcome_and_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "model-Q4_K_M.gguf"
    job = JobProcess(f"{CHILDREN}:partial_writer", NoOutputs(out))
    job.start()
    while not list(tmp_path.glob("model-Q4_K_M.gguf.*.part")):
        job.poll(0.1)
    assert job.pid is not None
    os.kill(job.pid, signal.SIGKILL)
    events = job.wait()
    failed = events[-1]
    assert isinstance(failed, ev.Failed) and "was killed (SIGKILL)" in failed.message
    assert job.outcome is not None and job.outcome.signal == "SIGKILL"
    assert list(tmp_path.iterdir()) == []


def test_stop_terminates_a_child_that_does_not_listen() -> None:
    child, messages = _start("sleeper")
    assert messages.get(timeout=60) == "ready"
    outcome = child.stop(ask="please quit", grace=0.2)
    assert outcome is not None and outcome.stopped and outcome.clean
    assert not child.alive


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="nice levels are POSIX")
def test_a_nicer_child_and_every_thread_it_starts_run_below_the_app() -> None:
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    if ours + 3 > 19:
        pytest.skip("this test process is already at the lowest priority")
    child, messages = _start("niceness")
    assert messages.get(timeout=60) == (ours, ours)
    child.wait(30)
    nicer = Supervisor(f"{CHILDREN}:niceness", subject="the test child", on_message=messages.put, nice=3)
    nicer.start()
    assert messages.get(timeout=60) == (ours + 3, ours + 3)
    nicer.wait(30)
