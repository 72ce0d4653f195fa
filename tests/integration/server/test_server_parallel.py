"""One engine answers several API requests at once (`serve --parallel N`): a second stream completes while a
long first one is still running, and each gets the reply it gets alone."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from conftest import ENGINE, GEMMA_ID, KEY, config

from app.server.runner import ServerThread
from tests.support.api_server import running_server, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def parallel_server(library: Path) -> Iterator[ServerThread]:
    # as the app's Server page runs it: engines below the priority of the process serving the API
    with running_server(config(library, engine=dataclasses.replace(ENGINE, n_parallel=2), engine_nice=3)) as running:
        yield running


def test_a_second_request_is_answered_while_a_long_one_streams(parallel_server: ServerThread) -> None:
    client = openai.OpenAI(base_url=f"{parallel_server.base_url}/v1", api_key=KEY, max_retries=0)
    history = parallel_server.state.scheduler.history
    alone = client.completions.create(model=GEMMA_ID, prompt="The capital of France is", max_tokens=8,
                                      temperature=0).choices[0].text
    long = client.completions.create(model=GEMMA_ID, prompt="Write a very long story about a dragon.",
                                     max_tokens=900, temperature=0, stream=True)
    pieces = iter(long)
    next(pieces)  # the long answer is being generated
    short = client.completions.create(model=GEMMA_ID, prompt="The capital of France is", max_tokens=8,
                                      temperature=0)
    assert short.choices[0].text == alone
    assert not any(r.generated_tokens >= 900 for r in history)  # answered beside it, not after it
    before = len(history)
    long.close()
    wait_until(lambda: len(history) > before, "the long generation stopped")
    assert history[-1].finish_reason == "stopped"
    loaded = parallel_server.state.scheduler.loaded()
    assert [m.id for m in loaded] == [GEMMA_ID] and not loaded[0].busy



@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="nice levels are POSIX")
def test_engines_run_below_the_server_when_asked(parallel_server: ServerThread) -> None:
    client = openai.OpenAI(base_url=f"{parallel_server.base_url}/v1", api_key=KEY, max_retries=0)
    client.completions.create(model=GEMMA_ID, prompt="Hello", max_tokens=2, temperature=0)
    pid = parallel_server.state.scheduler.pid_of(GEMMA_ID)
    assert pid is not None
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")] if os.path.isdir("/proc") else [pid]
    assert len(threads) > 1 or not os.path.isdir("/proc")
    assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in threads} == {min(19, ours + 3)}
