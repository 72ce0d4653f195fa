"""Acceptance (issue 13, items 1 and 2) with an offload device: where the recurrent state, the indexer cache
and DeepSeek-V4's compressed caches and compressor states land when only some layers are offloaded.

The device is an RPC worker on 127.0.0.1 (our own `gguf-studio rpc-worker` process); our engine loads each
synthetic model with its last one or two layers (and the output layer) on it. llama.cpp logs one buffer per
device for every cache and state, so each line is compared with the estimate's bytes for the layers on that
device, at the log's 0.01 MiB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat.client import EngineClient
from app.chat.protocol import EngineSettings
from app.estimate import MemoryEstimate
from app.estimate.engine import engine_load_settings
from app.estimate.memory import estimate
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from app.gguf.synthetic_arch import DEFAULT_SPECS, write_arch_gguf
from app.remote.ggml_backend import rpc_supported
from tests.integration.estimate.llama_log import LlamaReport, mib_double, parse, relayed_log
from tests.support.rpc_workers import running_workers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not rpc_supported(), reason="llama.cpp built without GGML_RPC"),
]

ARCHS = ("jamba", "qwen4exp", "deepseek4")  # recurrent + attention; + indexer and PLE history; compressed caches


@pytest.fixture(scope="module")
def worker() -> Iterator[str]:
    with running_workers(1) as (endpoint,):
        yield endpoint


def _load(path: Path, settings: EngineSettings) -> LlamaReport:
    with relayed_log() as log, EngineClient() as client:
        client.load(str(path), settings)
    return parse("\n".join(log.lines) + "\n")


def _by_device(est: MemoryEstimate, device: str, layer_bytes: dict[int, int]) -> Counter[tuple[str, str]]:
    """One buffer line per device holding any of the layers, as llama.cpp allocates them."""
    assert est.state is not None
    split: dict[str, int] = {}
    for il, n_bytes in layer_bytes.items():
        name = device if est.state.offload and est.state.placement.layer_on_gpu(il) else "CPU"
        split[name] = split.get(name, 0) + n_bytes
    return Counter((name, mib_double(n)) for name, n in split.items())


@pytest.mark.parametrize("n_gpu_layers", [2, 3])  # the output layer and layer 3, or layers 2 and 3 too
@pytest.mark.parametrize("arch", ARCHS)
def test_state_and_extra_caches_follow_their_layers(worker: str, tmp_path: Path, arch: str, n_gpu_layers: int) -> None:
    spec = DEFAULT_SPECS[arch].with_(ple=True) if arch == "qwen4exp" else DEFAULT_SPECS[arch]
    path = write_arch_gguf(tmp_path / f"{arch}.gguf", spec)
    settings = EngineSettings(n_ctx=2048, n_gpu_layers=n_gpu_layers, n_threads=1, rpc_workers=(worker,))
    report = _load(path, settings)
    est = estimate(shape_from_header(read_model(path)), engine_load_settings(settings), gpu_available=True)
    device = f"RPC0[{worker}]"
    assert est.state is not None and est.state_device.gpu > 0 and est.state_device.cpu > 0  # really split
    sizes = est.state.sizes

    recurrent = {x.layer: x.r_bytes + x.s_bytes + x.p_bytes for x in sizes.layers if x.r_bytes + x.s_bytes}
    assert Counter(report.rs_buffers) == (_by_device(est, device, recurrent) if recurrent else Counter())

    expected = Counter[tuple[str, str]]()
    for part in (est.kv.part(swa=False), est.kv.part(swa=True)):
        expected += _by_device(est, device, {x.layer: x.bytes for x in part})
    expected += _by_device(est, device, {x.layer: x.idx_bytes for x in sizes.layers if x.idx_bytes})
    for comp in sizes.compressed:
        each = {il: comp.n_bytes // len(comp.layers) for il in comp.layers}
        if comp.cells:
            expected += _by_device(est, device, each)
    assert Counter(report.kv_buffers) == expected

    states = Counter(report.dsv4_state_buffers)
    wanted = Counter[tuple[str, str, str]]()
    for comp in sizes.compressed:
        if not comp.cells:
            split = _by_device(est, device, {il: comp.n_bytes // len(comp.layers) for il in comp.layers})
            wanted += Counter({(name, comp.name.split()[0], mib): n for (name, mib), n in split.items()})
    assert states == wanted
