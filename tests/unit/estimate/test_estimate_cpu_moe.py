"""--n-cpu-moe in the estimate: the expert tensors of the offloaded layers among the first N stay in host
memory, by llama.cpp's rules (common.h's override patterns, llama-model-loader.cpp's buffer choice for a
CPU override). These tests encode the GPU/CPU split, which this machine (no GPU, no RPC build) cannot
show in a log; tests/integration/estimate/test_cpu_moe_llama.py checks the tensor set and the CPU side
against the real llama.cpp."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from app.chat.protocol import EngineSettings
from app.core.errors import EstimateError
from app.estimate import HardwareSpec, LoadSettings, ModelShape, VerdictKind, estimate, plan_cpu_moe, verdict
from app.estimate.cpu import CpuBackend, aligned, cpu_backend
from app.estimate.engine import cpu_moe_pattern, engine_load_settings
from app.estimate.model import EXPERT_TENSOR
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

MIB = 1024 * 1024
AVX2 = cpu_backend("CPU : AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | REPACK = 1 |", gpu_device=False)
CUDA_HOST = CpuBackend(features=dict(AVX2.features), gpu_host_buffer=True)
MOE = TinySpec(n_layer=3, n_embd=64, n_ff=128, n_expert=4, n_expert_used=2, tensor_type="Q4_0")


@pytest.fixture(scope="module")
def moe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelShape]:
    path = write_tiny_gguf(tmp_path_factory.mktemp("moe") / "moe.gguf", MOE)
    return path, shape_from_header(read_model(path))


def expert_tensors(path: Path) -> dict[str, int]:
    return {t.name: t.n_bytes for t in read_model(path).tensors if EXPERT_TENSOR.match(t.name)}


def test_expert_bytes_per_layer_come_from_the_header(moe: tuple[Path, ModelShape]) -> None:
    path, shape = moe
    experts = expert_tensors(path)
    assert len(experts) == 3 * MOE.n_layer  # gate, up and down stacks; ffn_gate_inp is not an expert tensor
    assert shape.expert_bytes == tuple(
        sum(n for name, n in experts.items() if name.startswith(f"blk.{il}.")) for il in range(MOE.n_layer)
    )
    assert shape.moe_layers == 3 and len(shape.expert_spans) == len(experts)
    assert sum(w.expert for w in shape.matmul_weights) == len(experts)


def test_the_engine_pattern_names_the_same_tensors_as_the_estimate() -> None:
    names = [
        f"blk.{il}.{part}.{suffix}"
        for il in range(12)
        for part in ("ffn_up_exps", "ffn_gate_up_exps", "ffn_down_chexps", "ffn_up_shexp", "ffn_gate_inp", "attn_q")
        for suffix in ("weight", "bias", "scale")
    ]
    assert cpu_moe_pattern(0) is None
    for n in (1, 2, 10, 12):
        pattern = re.compile(cpu_moe_pattern(n) or "")
        expected = {x for x in names if (m := EXPERT_TENSOR.match(x)) and int(m.group(1)) < n}
        assert {x for x in names if pattern.search(x)} == expected


@pytest.mark.parametrize("cpu", [AVX2, CUDA_HOST], ids=["repacking-cpu", "gpu-host-buffer"])
@pytest.mark.parametrize("mmap", [True, False])
def test_each_n_moves_exactly_its_layers_experts_to_host_memory(
    moe: tuple[Path, ModelShape], cpu: CpuBackend, mmap: bool
) -> None:
    _path, shape = moe
    base = LoadSettings(n_ctx=512, n_gpu_layers=-1, mmap=mmap)
    zero = estimate(shape, base, cpu=cpu)
    assert zero.weights.gpu == shape.weight_bytes - shape.input_bytes and zero.experts_on_cpu == 0
    for n in range(1, MOE.n_layer + 2):
        est = estimate(shape, dataclasses.replace(base, n_cpu_moe=n), cpu=cpu)
        moved = sum(shape.expert_bytes[:n])
        assert est.experts_on_cpu == min(n, MOE.n_layer)
        assert est.weights.gpu == zero.weights.gpu - moved
        assert est.weights.cpu == zero.weights.cpu + moved
        assert est.vram_bytes == zero.vram_bytes - moved  # KV and the device's compute stay with their layers
        assert est.kv == zero.kv and est.compute.gpu == zero.compute.gpu and est.output_bytes == zero.output_bytes
        # the moved experts' products run on the CPU: gate, up and their product for the used experts
        assert est.compute.cpu >= 512 * 4 * 3 * MOE.n_ff * MOE.n_expert_used > zero.compute.cpu
        if cpu.repacks:  # the CPU override picks among the CPU's buffer types: Q4_0 experts are repacked
            assert est.repack_bytes == zero.repack_bytes + sum(aligned(b) for b in _layer_tensors(moe, n))
        else:  # a GPU host buffer comes first: nothing is repacked; mapped or pinned host memory
            assert est.repack_bytes == 0
        assert est.ram_bytes >= zero.ram_bytes + (0 if mmap and cpu.repacks else moved)


def _layer_tensors(moe: tuple[Path, ModelShape], n: int) -> list[int]:
    path, _shape = moe
    return [b for name, b in expert_tensors(path).items() if int(name.split(".")[1]) < n]


def test_layers_already_on_the_cpu_do_not_change(moe: tuple[Path, ModelShape]) -> None:
    _path, shape = moe
    # two GPU layers: the output layer and layer 2; layers 0 and 1 stay on the CPU anyway
    base = LoadSettings(n_ctx=512, n_gpu_layers=2)
    plain = estimate(shape, base, cpu=AVX2)
    two = estimate(shape, dataclasses.replace(base, n_cpu_moe=2), cpu=AVX2)
    assert two == dataclasses.replace(plain, settings=two.settings)
    three = estimate(shape, dataclasses.replace(base, n_cpu_moe=3), cpu=AVX2)
    assert three.experts_on_cpu == 1 and three.weights.gpu == plain.weights.gpu - shape.expert_bytes[2]
    # no GPU backend: nothing is offloaded, so nothing moves
    cpu_only = estimate(shape, dataclasses.replace(base, n_cpu_moe=3), gpu_available=False, cpu=AVX2)
    assert cpu_only.experts_on_cpu == 0 and cpu_only.vram_bytes == 0


def test_with_mmap_the_moved_experts_widen_the_mapped_range(moe: tuple[Path, ModelShape]) -> None:
    _path, shape = moe
    base = LoadSettings(n_ctx=512, n_gpu_layers=-1, mmap=True)
    zero = estimate(shape, base, cpu=CUDA_HOST)
    every = estimate(shape, dataclasses.replace(base, n_cpu_moe=3), cpu=CUDA_HOST)
    # the mapped range runs from the token embeddings (first in the file) to the last expert tensor
    assert zero.mapped_bytes is not None and every.mapped_bytes is not None
    assert every.mapped_bytes > zero.mapped_bytes + sum(shape.expert_bytes) - shape.expert_bytes[-1]


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(EstimateError):
        LoadSettings(n_cpu_moe=-1)


def test_the_engine_mapping_carries_the_count() -> None:
    assert engine_load_settings(EngineSettings(n_cpu_moe=5)).n_cpu_moe == 5


def machine(vram: int, ram: int = 64 * 1024 * MIB) -> HardwareSpec:
    return HardwareSpec(ram, ram, vram, vram, gpu_offload_supported=True, cpu=AVX2)


def test_the_planner_finds_the_smallest_n_that_fits(moe: tuple[Path, ModelShape]) -> None:
    _path, shape = moe
    settings = LoadSettings(n_ctx=512)
    at = [estimate(shape, dataclasses.replace(settings, n_gpu_layers=-1, n_cpu_moe=n), cpu=AVX2) for n in range(4)]
    for n in range(4):
        hw = machine(at[n].vram_need)
        assert plan_cpu_moe(shape, settings, hw, margin=0) == n
        result = verdict(shape, settings, hw, margin=0)
        assert result.n_cpu_moe == n and result.n_gpu_layers == MOE.n_layer + 1
        if n:
            assert result.kind is VerdictKind.EXPERTS_CPU
            layers = "1 layer's" if n == 1 else f"{n} layers'"
            assert result.label == f"Fits with {layers} experts on the CPU"
        else:
            assert result.kind is VerdictKind.FULL_GPU
    # not even every expert on the CPU fits the GPU: fewer layers, as before
    assert plan_cpu_moe(shape, settings, machine(at[3].vram_need - 1), margin=0) is None
    assert verdict(shape, settings, machine(at[3].vram_need - 1), margin=0).kind is not VerdictKind.EXPERTS_CPU
    # the RAM the experts move into must be there too
    tight = HardwareSpec(at[1].ram_need - 1, at[1].ram_need - 1, at[1].vram_need, at[1].vram_need, True, AVX2)
    assert plan_cpu_moe(shape, settings, tight, margin=0) is None
