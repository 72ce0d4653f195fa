"""Acceptance (issue 18, items 3-4): two RPC workers of our own (`gguf-studio rpc-worker`'s process) on
127.0.0.1 and the local engine. Gemma 270M split across them answers exactly as a local run; a worker killed
during a reply, an unreachable one, one of another protocol version and a busy one are clear errors, and
the app (this test process) lives on. Our estimate of each device's weights and K/V caches equals the
buffers llama.cpp logs for RPC0/RPC1.

RPC workers compute with the CPU backend's plain layouts; a local run repacks weights (CPU_REPACK), which
rounds differently, so the local reference runs with `repack=False` (llama.cpp's --no-repack).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat import protocol as p
from app.chat.client import EngineClient
from app.core.errors import EngineError, RpcError
from app.estimate.engine import engine_load_settings
from app.estimate.shape import shape_from_header
from app.estimate.split import device_shares
from app.gguf import read_model
from app.remote import rpc_probe
from app.remote.ggml_backend import rpc_supported
from tests.integration.estimate.llama_log import mib_double, mib_float32, parse, relayed_log
from tests.support.fake_rpc import fake_server, worker
from tests.support.rpc_workers import free_port, running_workers, start_worker

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not rpc_supported(), reason="llama.cpp built without GGML_RPC"),
]

PROMPT = "The capital of France is"
GREEDY = p.Sampling(temperature=0.0, max_tokens=24)
LOCAL = p.EngineSettings(n_ctx=512, n_threads=2, n_batch=128, repack=False)


@pytest.fixture(scope="module")
def workers() -> Iterator[tuple[str, str]]:
    with running_workers(2) as (first, second):
        yield first, second


def _answer(model: Path, settings: p.EngineSettings) -> str:
    with EngineClient() as client:
        client.load(str(model), settings)
        return client.generate(prompt=PROMPT, sampling=GREEDY).text


def test_a_pool_of_two_workers_answers_as_a_local_run(gemma_model: Path, workers: tuple[str, str]) -> None:
    local = _answer(gemma_model, LOCAL)
    pooled_settings = dataclasses.replace(LOCAL, n_gpu_layers=999, rpc_workers=workers)
    with relayed_log() as log:
        pooled = _answer(gemma_model, pooled_settings)
    assert local.strip() and pooled == local

    # Layers split 1:1 as planned (both workers offer the same free memory), and our estimate of each
    # device's model buffer and K/V caches equals what llama.cpp allocated there.
    (pool,) = [line for line in log.lines if line.startswith("device pool:")]
    assert pool == f"device pool: RPC0 ({workers[0]}) 50%, RPC1 ({workers[1]}) 50%"
    report = parse("\n".join(log.lines))
    shape = shape_from_header(read_model(gemma_model))
    shares = device_shares(shape, engine_load_settings(pooled_settings), (0.5, 0.5))
    assert [len(share.layers) for share in shares] == [10, 9]  # 18 layers and the output layer
    for endpoint, share in zip(workers, shares, strict=True):
        name = f"RPC0[{endpoint}]"  # ggml numbers devices per worker
        assert f"{report.model_buffers[name]:.2f}" == mib_double(share.weights)
        kv = [mib for buffer, mib in report.kv_buffers if buffer == name]
        assert kv == [mib_float32(share.kv_full), mib_float32(share.kv_swa)]  # the full cache, then the SWA one


def test_a_worker_killed_during_a_reply(gemma_model: Path) -> None:
    doomed = start_worker()
    try:
        with EngineClient() as client:
            client.load(str(gemma_model), dataclasses.replace(LOCAL, n_gpu_layers=999, rpc_workers=(doomed.endpoint,)))
            received = ""
            with pytest.raises(EngineError) as caught:
                for event in client.stream(prompt=PROMPT, sampling=p.Sampling(temperature=0.0, max_tokens=400)):
                    if isinstance(event, p.Token):
                        if not received:
                            assert doomed.pid is not None
                            os.kill(doomed.pid, signal.SIGKILL)
                        received += event.text
            assert not client.alive  # the engine child went down with its worker; this process did not
        assert "RPC server crashed" in str(caught.value)  # the native abort line, reworded
        # The app carries on: a new engine loads locally.
        assert _answer(gemma_model, LOCAL).strip()
    finally:
        doomed.stop()


def test_bad_workers_are_clear_errors_and_the_engine_lives(gemma_model: Path, workers: tuple[str, str]) -> None:
    pooled = dataclasses.replace(LOCAL, n_gpu_layers=999)
    with EngineClient() as client:
        closed = f"127.0.0.1:{free_port()}"
        with pytest.raises(RpcError, match="Cannot reach the RPC worker"):
            client.load(str(gemma_model), dataclasses.replace(pooled, rpc_workers=(closed,)))
        with (
            fake_server(worker((rpc_probe.PROTOCOL_MAJOR + 1, 0, 0), [(1 << 30, 1 << 30)])) as other,
            pytest.raises(RpcError, match="speaks protocol"),
        ):
            client.load(str(gemma_model), dataclasses.replace(pooled, rpc_workers=(other,)))
        host, port = rpc_probe.parse_endpoint(workers[0])
        with socket.create_connection((host, port)) as holder:  # another client holds the worker
            holder.sendall(struct.pack("<BQ", 14, 24) + bytes(24))
            assert holder.recv(8)
            with pytest.raises(RpcError, match="did not answer"):
                client.load(str(gemma_model), dataclasses.replace(pooled, rpc_workers=(workers[0],)))
        assert client.alive
        client.load(str(gemma_model), LOCAL)  # the same engine still loads and answers
        assert client.generate(prompt=PROMPT, sampling=GREEDY).text.strip()
