"""Acceptance (issue 13, item 4) with an offload device: the estimate behind `estimate --n-cpu-moe N` against
llama.cpp's own allocation for N = 0, 1 and all layers, on a tiny MoE offloaded to an RPC worker on 127.0.0.1
(the command itself probes this machine, which has no device to offload to).

The worker is our own (`gguf-studio rpc-worker`'s process, app.remote.worker) and the model is loaded by our
own engine (app.chat.client.EngineClient) with every layer on the pool; llama.cpp's RPC backend makes the
worker a GPU-type device with its own `RPC0[…] model buffer` and KV buffer lines, relayed into Python logging.

Compared exactly (at the log's 0.01 MiB): the device's model buffer, CPU_Mapped, CPU_REPACK and the KV
buffers of both devices; the CPU compute buffer the moved experts need within its modelled band (0 to 20%
over). RPC workers never repack weights, and the RPC device has no host buffer type and no op offload, so
the local CPU's repacking applies to the experts kept here and no weight copies enter a compute buffer; a
CUDA device's pinned host memory and op-offload copies still need a GPU to check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat.client import EngineClient
from app.chat.protocol import EngineSettings
from app.estimate import MemoryEstimate
from app.estimate.cpu import CpuBackend
from app.estimate.engine import engine_load_settings
from app.estimate.hardware import probe_spec
from app.estimate.memory import estimate
from app.estimate.settings import GPU_LAYERS_ALL
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from app.remote.ggml_backend import rpc_supported
from tests.integration.estimate.llama_log import LlamaReport, mib_double, parse, relayed_log
from tests.support.rpc_workers import running_workers
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not rpc_supported(), reason="llama.cpp built without GGML_RPC"),
]

MOE = TinySpec(n_layer=4, n_embd=256, n_head=4, n_head_kv=2, n_ff=512, n_expert=8, tensor_type="Q4_0", n_vocab=600)
OFFLOADED = EngineSettings(n_ctx=512, n_gpu_layers=GPU_LAYERS_ALL, n_threads=1)


@pytest.fixture(scope="module")
def worker() -> Iterator[str]:
    with running_workers(1) as (endpoint,):
        yield endpoint


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("tiny-moe") / "tiny-moe.gguf", MOE)


@pytest.fixture(scope="module")
def cpu() -> CpuBackend:
    # This machine's CPU backend beside an RPC device: no GPU host buffer takes the CPU weights first.
    return CpuBackend(features=probe_spec().cpu.features)


def engine_log(model: Path, settings: EngineSettings) -> LlamaReport:
    """The buffer lines of llama.cpp loading `model` in our engine with `settings`."""
    with relayed_log() as log, EngineClient() as client:
        client.load(str(model), settings)
    return parse("\n".join(log.lines) + "\n")


def _estimate(model: Path, settings: EngineSettings, cpu: CpuBackend) -> MemoryEstimate:
    shape = shape_from_header(read_model(model))
    return estimate(shape, engine_load_settings(settings), gpu_available=True, cpu=cpu)


@pytest.mark.parametrize("n_cpu_moe", [0, 1, MOE.n_layer])
def test_estimate_matches_the_device_and_cpu_buffers(worker: str, model: Path, cpu: CpuBackend, n_cpu_moe: int) -> None:
    settings = dataclasses.replace(OFFLOADED, rpc_workers=(worker,), n_cpu_moe=n_cpu_moe)
    report = engine_log(model, settings)
    est = _estimate(model, settings, cpu)
    shape = shape_from_header(read_model(model))

    device = f"RPC0[{worker}]"
    assert {name for name in report.model_buffers if name.startswith("RPC")} == {device}
    plain, repacked = est.host_weight_buffers
    assert (mib_double(est.weights.gpu), mib_double(plain), mib_double(repacked)) == (
        f"{report.model_buffers[device]:.2f}",
        f"{report.model_buffers.get('CPU_Mapped', 0.0):.2f}",
        f"{report.model_buffers.get('CPU_REPACK', 0.0):.2f}",
    )
    if n_cpu_moe and cpu.repacks and "AVX2" in cpu.features:
        assert "CPU_REPACK" in report.model_buffers  # the experts kept here are repacked by the local CPU
    assert est.experts_on_cpu == n_cpu_moe and est.expert_cpu_bytes == sum(shape.expert_bytes[:n_cpu_moe])
    # every layer's cache beside it on the device, none on the CPU
    assert report.kv_buffers == [(device, mib_double(est.kv_device.gpu))] and est.kv_device.cpu == 0
    if n_cpu_moe:  # the moved experts' products run on the CPU: its compute buffer (modelled, not exact)
        cpu_compute = report.compute_buffers["CPU"] * 1024 * 1024
        assert cpu_compute <= est.compute.cpu <= 1.2 * cpu_compute


def test_every_layers_experts_on_the_cpu_leave_only_the_rest_on_the_device(worker: str, model: Path) -> None:
    shape = shape_from_header(read_model(model))
    pooled = dataclasses.replace(OFFLOADED, rpc_workers=(worker,))
    none = engine_log(model, pooled).model_buffers
    every = engine_log(model, dataclasses.replace(pooled, n_cpu_moe=MOE.n_layer)).model_buffers
    moved = sum(shape.expert_bytes) / 1024 / 1024
    device = f"RPC0[{worker}]"
    assert abs((none[device] - every[device]) - moved) < 0.011
    assert _estimate(model, dataclasses.replace(pooled, n_cpu_moe=MOE.n_layer), CpuBackend()).expert_cpu_bytes == sum(
        shape.expert_bytes
    )
