"""Issue 18, item 5: admission over a pool of llama.cpp RPC workers. Their devices join the server's memory
budget like local GPUs (free memory from our probe): a model is split over them as the engine splits it,
one that cannot fit a worker device is refused with the numbers, and the pool holds one model at a time
(a worker serves one client)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import ENGINE, GEMMA_ID, KEY, TINY_ID, config

from app.remote import rpc_probe
from app.remote.ggml_backend import rpc_supported
from tests.support.api_server import http, running_server
from tests.support.fake_rpc import fake_server, worker
from tests.support.rpc_workers import running_workers

pytestmark = pytest.mark.slow
MiB = 1024 * 1024
AUTH = {"Authorization": f"Bearer {KEY}"}


def pooled(*endpoints: str) -> Any:
    return dataclasses.replace(ENGINE, n_gpu_layers=-1, rpc_workers=endpoints, repack=False)


def test_a_model_that_cannot_fit_a_worker_device_is_refused_with_the_numbers(library: Path) -> None:
    small = worker((rpc_probe.PROTOCOL_MAJOR, rpc_probe.PROTOCOL_MINOR, 0), [(MiB, 2 * MiB)])
    with fake_server(small) as endpoint, running_server(config(library, engine=pooled(endpoint))) as server:
        status, body = http("POST", f"{server.base_url}/v1/completions", headers={**AUTH, "Content-Type":
                            "application/json"}, body=b'{"model": "%s", "prompt": "hi"}' % GEMMA_ID.encode())
        assert status == 400
        message = body["error"]["message"]
        assert f"RPC0 ({endpoint} #0)" in message and "1.0 MiB" in message
        assert "cannot be loaded as the server is set up" in message
        assert server.state.scheduler.loaded() == []  # refused before any engine started


@pytest.fixture(scope="module")
def workers() -> Iterator[tuple[str, str]]:
    if not rpc_supported():
        pytest.skip("llama.cpp built without GGML_RPC")
    with running_workers(2) as (first, second):
        yield first, second


def test_models_load_over_two_workers_one_at_a_time(library: Path, workers: tuple[str, str]) -> None:
    with running_server(config(library, engine=pooled(*workers))) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
        reply = client.completions.create(model=GEMMA_ID, prompt="The capital of France is", max_tokens=4,
                                          temperature=0)
        assert reply.choices[0].text.strip()
        _, health = http("GET", f"{server.base_url}/health", headers=AUTH)
        devices = health["memory"]["rpc_devices"]
        assert [d["device"] for d in devices] == [f"RPC0 ({workers[0]} #0)", f"RPC1 ({workers[1]} #0)"]
        assert all(d["used_bytes"] > 10 * MiB for d in devices)  # the weights are split over both
        (loaded,) = health["loaded"]
        assert loaded["id"] == GEMMA_ID and loaded["rpc_bytes"] == [d["used_bytes"] for d in devices]
        # another model needs the same workers, which serve one engine each: the idle one makes way
        client.completions.create(model=TINY_ID, prompt="hello", max_tokens=2)
        assert [m.id for m in server.state.scheduler.loaded()] == [TINY_ID]
