"""Load: 200 requests from 8 concurrent openai SDK clients on one engine of 4 sequences, a tenth of them
abandoned mid-stream. None is lost, no error but the abandoned ones, and everything is idle again after."""

from __future__ import annotations

import collections
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import psutil
import pytest
from conftest import ENGINE, KEY, TINY_ID, config

from app.server.runner import ServerThread
from tests.support.api_server import running_server, wait_until

pytestmark = pytest.mark.slow

REQUESTS = 200
CLIENTS = 8
CANCEL_EVERY = 10  # a tenth
MIB = 1024 * 1024


def one_request(client: openai.OpenAI, index: int) -> str:
    """What happened to request `index`: 'ok', or 'cancelled' for the ones this client abandons."""
    cancel = index % CANCEL_EVERY == 0
    stream = client.chat.completions.create(
        model=TINY_ID, messages=[{"role": "user", "content": f"request {index}: say something"}],
        max_tokens=400 if cancel else 6, temperature=0.7, seed=index, stream=True,
    )
    if cancel:
        next(iter(stream))
        stream.close()
        return "cancelled"
    finish = None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert finish in ("stop", "length"), finish
    return "ok"


def engine_rss(server: ServerThread) -> int:
    pid = server.state.scheduler.pid_of(TINY_ID)
    assert pid is not None
    return int(psutil.Process(pid).memory_info().rss)


def test_two_hundred_requests_from_eight_clients(library: Path) -> None:
    engine = dataclasses.replace(ENGINE, n_parallel=4)
    with running_server(config(library, engine=engine)) as server:
        scheduler = server.state.scheduler
        local = threading.local()

        def run(index: int) -> str:
            if not hasattr(local, "client"):
                local.client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
            return one_request(local.client, index)

        with ThreadPoolExecutor(CLIENTS) as pool:  # warm-up: the model loaded, every sequence used once
            assert list(pool.map(run, range(1, CLIENTS + 1))) == ["ok"] * CLIENTS
        wait_until(lambda: not any(m.busy for m in scheduler.loaded()), "the warm-up ended")
        idle_rss = engine_rss(server)
        scheduler.history.clear()  # it keeps the last 200: exactly this run's

        with ThreadPoolExecutor(CLIENTS) as pool:
            outcomes = list(pool.map(run, range(REQUESTS)))  # raises the first error of any request

        assert outcomes.count("cancelled") == REQUESTS // CANCEL_EVERY
        assert outcomes.count("ok") == REQUESTS - REQUESTS // CANCEL_EVERY
        wait_until(lambda: len(scheduler.history) == REQUESTS, "every request was recorded")
        reasons = collections.Counter(r.finish_reason for r in scheduler.history)
        assert reasons["stopped"] <= REQUESTS // CANCEL_EVERY  # only abandoned ones stop early
        assert reasons["stopped"] + reasons["length"] + reasons["eog"] == REQUESTS
        wait_until(lambda: not any(m.busy for m in scheduler.loaded()), "the engine is idle")
        slot_client = scheduler._slots[TINY_ID].client
        assert slot_client.open_requests == 0  # no stream left waiting in the app
        assert [m.id for m in scheduler.loaded()] == [TINY_ID]
        assert engine_rss(server) <= idle_rss + 16 * MIB  # the caches are reused, nothing piles up
