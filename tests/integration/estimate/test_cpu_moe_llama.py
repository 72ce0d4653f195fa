"""Acceptance (issue 13, item 4): --n-cpu-moe through the app's engine against the real llama.cpp, on a
tiny llama-architecture MoE (app.gguf.synthetic, 3 layers of 4 Q4_0 experts).

What this machine can show (no GPU, and the llama-cpp-python wheel has no GGML_RPC, so no device to
offload to): for N = 0, 1 and all layers, the engine's overrides reach llama-model-loader with the CPU
buffer type itself (llama.cpp then chooses among the CPU's buffer types, and names its choice in the log),
they name exactly the expert tensors the estimate counts for those layers, the CPU_Mapped and CPU_REPACK
buffers are the estimate's, and the model still generates. The GPU/CPU split of the weights is encoded
in tests/unit/estimate/test_estimate_cpu_moe.py; checking it against a log needs an RPC build or a GPU.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat.engine_core import Engine
from app.chat.protocol import EngineSettings, Sampling
from app.estimate import HardwareSpec
from app.estimate.cpu import repacked
from app.estimate.hardware import probe_spec
from app.estimate.model import EXPERT_TENSOR
from app.estimate.shape import shape_from_header
from app.estimate.view import engine_estimate
from app.gguf import read_model
from app.process import native_log
from tests.integration.estimate.llama_log import mib_double, parse
from tests.support.cli import run_cli
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

MOE = TinySpec(n_layer=3, n_embd=64, n_ff=128, n_expert=4, n_expert_used=2, tensor_type="Q4_0", n_vocab=600)
_OVERRIDDEN = re.compile(r"tensor (\S+) \(\d+ MiB (\w+)\) buffer type overridden to (\S+)")


@pytest.fixture(scope="module")
def moe_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("moe") / "tiny-moe.gguf", MOE)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = Engine()
    yield eng
    eng.close()


@pytest.mark.parametrize("n_cpu_moe", [0, 1, MOE.n_layer])
def test_overrides_name_the_estimates_experts_and_the_buffers_match(
    engine: Engine, moe_model: Path, n_cpu_moe: int
) -> None:
    header = read_model(moe_model)
    shape = shape_from_header(header)
    hardware: HardwareSpec = probe_spec()
    settings = EngineSettings(n_ctx=512, n_batch=64, n_threads=2, n_cpu_moe=n_cpu_moe)
    with native_log.captured(lambda _level, _line: None) as lines:
        engine.load(str(moe_model), settings)
    report = parse("\n".join(lines))

    overridden = {m.group(1): m.group(3) for line in lines if (m := _OVERRIDDEN.search(line))}
    experts = {t.name: t for t in header.tensors if (m := EXPERT_TENSOR.match(t.name)) and int(m.group(1)) < n_cpu_moe}
    assert set(overridden) == set(experts)
    assert sum(t.n_bytes for t in experts.values()) == sum(shape.expert_bytes[:n_cpu_moe])
    for name, buffer in overridden.items():  # the CPU override chose among the CPU's buffer types
        tensor = experts[name]
        assert buffer == ("CPU_REPACK" if repacked(tensor.type_name, tensor.shape[1], hardware.cpu) else "CPU")

    est = engine_estimate(shape, settings, hardware)
    plain, repacked_bytes = est.host_weight_buffers
    assert mib_double(plain) == f"{report.model_buffers['CPU_Mapped']:.2f}"
    assert mib_double(repacked_bytes) == f"{report.model_buffers.get('CPU_REPACK', 0.0):.2f}"
    assert est.vram_bytes == 0 and est.experts_on_cpu == 0  # nothing offloaded, so nothing moved

    # `gguf-studio estimate --n-cpu-moe N` (the real entry point) reports the same buffers
    args = ("estimate", str(moe_model), "--ctx", "512", "--batch", "64", "--ngl", "all", "--json")
    result = run_cli(*args, "--n-cpu-moe", str(n_cpu_moe))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["n_cpu_moe"] == n_cpu_moe and data["experts"] == {"layers_on_cpu": 0, "cpu_bytes": 0}
    assert data["weights"] == {"gpu": 0, "cpu": plain, "cpu_repacked": repacked_bytes}
    assert data["vram_bytes"] == 0 and data["ram_bytes"] == est.ram_bytes

    tokens = engine.tokenize("hello world", add_special=True)
    result = engine.generate(tokens, Sampling(temperature=0.0, max_tokens=4))
    assert result.stats.generated_tokens >= 1


def test_auto_without_a_gpu_keeps_everything_on_the_cpu(moe_model: Path) -> None:
    result = run_cli("estimate", str(moe_model), "--ctx", "512", "--n-cpu-moe", "auto", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["vram_bytes"] == 0 and data["verdict"] in ("cpu_only", "wont_fit")
    bad = run_cli("estimate", str(moe_model), "--n-cpu-moe", "lots")
    assert bad.returncode != 0 and "--n-cpu-moe must be a number" in bad.stderr
