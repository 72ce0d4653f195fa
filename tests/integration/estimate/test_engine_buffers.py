"""Acceptance (issue 13, item 0): the estimate is what OUR engine makes llama.cpp allocate.

Models are loaded through the app's engine process (app/chat/client.EngineClient, the real llama.cpp),
whose llama.cpp log is relayed into Python logging; every buffer line of it is compared with the
estimate fed the same EngineSettings through the one mapping (app.estimate.engine):

* weights (CPU_Mapped: the mapped file range; CPU without mmap), repacked weights (CPU_REPACK), KV
  buffers and the output buffer: equal at the log's resolution (0.01 MiB);
* the sum of all buffers: within 2% (the compute buffer is the one modelled part).

The repacking depends on the CPU features of this llama.cpp build, read from ggml by the hardware probe.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat.client import EngineClient
from app.chat.protocol import EngineSettings
from app.estimate import HardwareSpec, LoadSettings, MemoryEstimate
from app.estimate.engine import engine_load_settings
from app.estimate.hardware import probe_spec
from app.estimate.shape import shape_from_header
from app.estimate.view import engine_estimate, memory_view, read_model_file
from app.gguf import read_model
from app.hub.fit import fit_quants
from app.hub.models import Quant, RepoDetail, RepoFile
from tests.integration.estimate.llama_log import (
    LlamaReport,
    RelayedLines,
    logged_engine,
    mib_double,
    parse,
)
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
TOTAL_TOLERANCE = 0.02
LOG_RESOLUTION = 0.005 * MIB  # buffer sizes are logged in MiB with two decimals
REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[EngineClient, RelayedLines]]:
    with logged_engine() as engine_and_log:
        yield engine_and_log


@pytest.fixture(scope="module")
def machine() -> HardwareSpec:
    return probe_spec()  # RAM and ggml's CPU features, as the app sees them


def engine_log(engine: tuple[EngineClient, RelayedLines], path: Path, settings: EngineSettings) -> LlamaReport:
    """Load `path` in the engine and read what its llama.cpp logged (relayed before `Loaded` arrives)."""
    client, handler = engine
    handler.lines.clear()
    client.load(str(path), settings)
    try:
        return parse("\n".join(handler.lines) + "\n")
    finally:
        client.unload()


def context_params(log: LlamaReport) -> dict[str, str]:
    """The `llama_context: name = value` lines: the parameters the context was really made with."""
    found = re.findall(r"^llama_context: (\w+)\s+= (\S+)$", log.log, flags=re.MULTILINE)
    return dict(found)


def assert_engine_used(log: LlamaReport, load: LoadSettings) -> None:
    """The mapping carries what the engine gives llama.cpp."""
    params = context_params(log)
    expected = {
        "n_seq_max": str(load.n_seq_max),
        "n_batch": str(load.n_batch),
        "n_ubatch": str(load.n_ubatch),
        "flash_attn": load.flash_attn.value,
        "kv_unified": str(load.kv_unified).lower(),
        "n_outputs_max": str(load.n_outputs_max),
    }
    assert {key: params.get(key) for key in expected} == expected


def buffer_sum(log: LlamaReport) -> float:
    kv = sum(float(mib) for _name, mib in log.kv_buffers)
    output = sum(float(mib) for mib in log.output_buffers.values())
    return (sum(log.model_buffers.values()) + kv + output + sum(log.compute_buffers.values())) * MIB


def compare(log: LlamaReport, est: MemoryEstimate) -> None:
    plain, repacked = est.host_weight_buffers
    mapped = log.model_buffers.get("CPU_Mapped", log.model_buffers.get("CPU", 0.0)) * MIB
    assert abs(mapped - plain) <= LOG_RESOLUTION, (mapped / MIB, plain / MIB)
    assert abs(log.model_buffers.get("CPU_REPACK", 0.0) * MIB - repacked) <= LOG_RESOLUTION
    assert set(log.model_buffers) <= {"CPU_Mapped", "CPU", "CPU_REPACK"}
    assert sum(float(mib) for _name, mib in log.kv_buffers) * MIB == pytest.approx(
        est.kv_bytes, abs=LOG_RESOLUTION * len(log.kv_buffers)
    )
    assert [mib for _name, mib in log.kv_buffers] == [mib_double(sum(p.bytes for p in part)) for part in _kv_parts(est)]
    assert log.output_buffers == {"CPU": mib_double(est.output_bytes)}
    assert log.compute_buffers, "the compute buffer line is missing from the engine's log"
    measured = buffer_sum(log)
    assert abs(est.ram_bytes - measured) <= TOTAL_TOLERANCE * measured, (est.ram_bytes / MIB, measured / MIB)


def _kv_parts(est: MemoryEstimate) -> list[tuple]:
    swa = [layer for layer in est.kv.layers if layer.swa]
    full = [layer for layer in est.kv.layers if not layer.swa]
    return [part for part in (tuple(full), tuple(swa)) if part]


@pytest.mark.parametrize("n_ctx", [4096, 32768])
def test_gemma_through_the_engine(engine, machine: HardwareSpec, gemma_model: Path, n_ctx: int) -> None:
    settings = EngineSettings(n_ctx=n_ctx, n_gpu_layers=0)
    log = engine_log(engine, gemma_model, settings)
    model = read_model(gemma_model)
    est = engine_estimate(shape_from_header(model), settings, machine)
    assert_engine_used(log, est.settings)
    compare(log, est)
    if machine.cpu.repacks and "AVX2" in machine.cpu.features:
        assert log.model_buffers["CPU_REPACK"] == pytest.approx(12.66)  # Q4_K attn_output and ffn_down


@pytest.mark.parametrize("n_parallel", [2, 4])
def test_parallel_sequences_through_the_engine(engine, machine: HardwareSpec, gemma_model: Path,
                                               n_parallel: int) -> None:
    """`serve --parallel N`: N sequences of the full context, a cache stream each (not unified), a logits row each."""
    settings = EngineSettings(n_ctx=2048, n_gpu_layers=0, n_parallel=n_parallel)
    log = engine_log(engine, gemma_model, settings)
    est = engine_estimate(shape_from_header(read_model(gemma_model)), settings, machine)
    assert est.settings.n_ctx == 2048 * n_parallel and est.settings.n_seq_max == n_parallel
    assert_engine_used(log, est.settings)
    compare(log, est)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-engine-buffers")
    base = TinySpec(n_layer=3, n_embd=256, n_head=8, n_head_kv=2, n_ff=512, n_vocab=2048, context_length=8192)
    specs = {
        "f16": base.with_(tensor_type="F16"),
        "q4_0": base.with_(tensor_type="Q4_0"),  # every matrix repackable on AVX2 and Arm dot-product builds
        "q4_0-tied": base.with_(tensor_type="Q4_0", tied_output=True),  # the head is loaded (and repacked) twice
        "q8_0": base.with_(tensor_type="Q8_0"),
    }
    return {name: write_tiny_gguf(root / f"{name}.gguf", spec) for name, spec in specs.items()}


@pytest.mark.parametrize("name", ["f16", "q4_0", "q4_0-tied", "q8_0"])
@pytest.mark.parametrize("settings", [EngineSettings(n_ctx=2048), EngineSettings(n_ctx=4096, use_mmap=False)])
def test_tiny_models_through_the_engine(
    engine, machine: HardwareSpec, tiny_models: dict[str, Path], name: str, settings: EngineSettings
) -> None:
    log = engine_log(engine, tiny_models[name], settings)
    model = read_model(tiny_models[name])
    est = engine_estimate(shape_from_header(model), settings, machine)
    assert_engine_used(log, est.settings)
    if not settings.use_mmap:
        assert "CPU_Mapped" not in log.model_buffers
    compare(log, est)
    if name.startswith("q4_0") and machine.cpu.repacks and "AVX2" in machine.cpu.features:
        assert est.repack_bytes > 0


@pytest.mark.parametrize("use_mmap", [True, False])
def test_repacking_off_through_the_engine(
    engine, machine: HardwareSpec, tiny_models: dict[str, Path], use_mmap: bool
) -> None:
    """llama.cpp's --no-repack (`EngineSettings.repack=False`): no CPU_REPACK buffer, every weight plain."""
    settings = EngineSettings(n_ctx=2048, use_mmap=use_mmap, repack=False)
    log = engine_log(engine, tiny_models["q4_0"], settings)
    shape = shape_from_header(read_model(tiny_models["q4_0"]))
    est = engine_estimate(shape, settings, machine)
    assert est.settings.repack is False and est.repack_bytes == 0
    assert "CPU_REPACK" not in log.model_buffers
    compare(log, est)
    if machine.cpu.repacks and "AVX2" in machine.cpu.features:  # the same load with repacking does repack
        assert engine_estimate(shape, dataclasses.replace(settings, repack=True), machine).repack_bytes > 0


def _cli_ram(gemma_model: Path, n_ctx: int, *extra: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "app", "estimate", str(gemma_model), "--ctx", str(n_ctx), "--json", *extra],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("n_ctx", [4096, 32768])
def test_estimate_command_reports_what_the_engine_allocates(engine, gemma_model: Path, n_ctx: int) -> None:
    data = _cli_ram(gemma_model, n_ctx)
    log = engine_log(engine, gemma_model, EngineSettings(n_ctx=n_ctx, n_gpu_layers=0))
    measured = buffer_sum(log)
    assert data["as"] == "engine" and data["load_settings"]["n_outputs_max"] == 1
    assert abs(data["ram_bytes"] - measured) <= TOTAL_TOLERANCE * measured, (data["ram_bytes"] / MIB, measured / MIB)
    server = _cli_ram(gemma_model, n_ctx, "--as", "llama-server")
    assert server["ram_bytes"] > data["ram_bytes"] + 400 * MIB  # 512 logits rows of a 262k vocabulary, 4 slots


def test_discover_and_the_chat_panel_show_the_engine_figure(machine: HardwareSpec, gemma_model: Path) -> None:
    shape = shape_from_header(read_model(gemma_model))
    size = gemma_model.stat().st_size
    quant = Quant("Q4_K_M", (RepoFile(gemma_model.name, size, None),))
    detail = RepoDetail(
        "google/gemma", "google", "x", "", False, 0, 0, None, None, "gemma3", 32768, (quant,), (), (), ()
    )
    cpu_only = HardwareSpec(machine.ram_total, machine.ram_available, cpu=machine.cpu)
    discover = fit_quants(detail, cpu_only, 4096, shape).fits[0].verdict
    panel = memory_view(read_model_file(gemma_model), EngineSettings(n_ctx=4096), cpu_only)
    assert discover.ram_bytes == panel.ram_bytes
    assert discover.detail is not None
    assert discover.detail.estimate.settings == engine_load_settings(EngineSettings(n_ctx=4096, n_gpu_layers=0))
