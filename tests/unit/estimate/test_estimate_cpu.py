"""The CPU backend's repacked weights (CPU_REPACK): features from ggml's system info, the repack rules of
the pinned ggml-cpu, and their place in the estimate."""

from __future__ import annotations

import dataclasses

from app.chat.protocol import EngineSettings
from app.estimate import LoadSettings, ModelShape, estimate
from app.estimate.cpu import NO_REPACK, cpu_backend, parse_system_info, repacked
from app.estimate.engine import engine_load_settings
from app.estimate.hardware import spec_from_info
from app.estimate.model import INPUT_LAYER, MatmulWeight, file_layout
from app.hardware.info import HardwareInfo, LlamaBackend
from tests.unit.estimate.shapes import MIB, make_shape

X86_INFO = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 | "
)
AVX2 = cpu_backend(X86_INFO)
AVX512 = cpu_backend(X86_INFO.replace("BMI2 = 1 |", "BMI2 = 1 | AVX512 = 1 |"))
ARM_DOTPROD = cpu_backend("CPU : NEON = 1 | ARM_FMA = 1 | FP16_VA = 1 | DOTPROD = 1 | REPACK = 1 | ")


def test_system_info_is_read_per_backend() -> None:
    parsed = parse_system_info("CUDA : ARCHS = 890 | USE_GRAPHS = 1 | CPU : AVX2 = 1 | SVE_CNT = 32 | REPACK = 1 |")
    assert parsed == {"CUDA": {"ARCHS": "890", "USE_GRAPHS": "1"}, "CPU": {"AVX2": "1", "SVE_CNT": "32", "REPACK": "1"}}
    assert AVX2.repacks and AVX2.exact and not AVX2.gpu_host_buffer


def test_rules_follow_type_features_and_rows() -> None:
    assert repacked("Q4_K", 640, AVX2) and not repacked("Q4_K", 644, AVX2)  # interleaves 8 rows
    assert repacked("Q4_0", 8, AVX2) and repacked("IQ4_NL", 16, AVX2) and repacked("MXFP4", 8, AVX2)
    for kind in ("Q8_0", "Q6_K", "Q5_K", "Q5_0", "F16", "F32", "Q2_K"):
        assert not repacked(kind, 1024, AVX2), kind
    assert repacked("Q2_K", 1024, AVX512)
    assert repacked("Q8_0", 4, ARM_DOTPROD) and repacked("Q4_0", 12, ARM_DOTPROD)
    assert not repacked("Q4_K", 12, ARM_DOTPROD)
    sve = cpu_backend("CPU : SVE = 1 | MATMUL_INT8 = 1 | SVE_CNT = 32 | REPACK = 1 |")
    assert repacked("Q4_0", 8, sve) and not repacked("Q4_0", 8, dataclasses.replace(sve, features={"SVE": "1"}))


def test_nothing_is_repacked_without_the_repack_buffer_or_with_a_gpu_host_buffer() -> None:
    assert not repacked("Q4_K", 640, cpu_backend(X86_INFO.replace("REPACK = 1 | ", "")))
    assert not repacked("Q4_K", 640, NO_REPACK)
    cuda = cpu_backend("CUDA : ARCHS = 890 | " + X86_INFO)
    assert cuda.gpu_host_buffer and not repacked("Q4_K", 640, cuda)
    assert cpu_backend(X86_INFO, backends=("cpu", "vulkan")).gpu_host_buffer
    assert not cpu_backend("CUDA : ARCHS = 890 | " + X86_INFO, gpu_device=False).gpu_host_buffer  # no GPU found
    assert not cpu_backend(X86_INFO, backends=("cpu", "metal")).gpu_host_buffer  # Metal has no host buffer type
    assert not cpu_backend(X86_INFO.replace("REPACK", "AMX_INT8 = 1 | REPACK")).exact


def test_probe_result_carries_the_cpu_backend() -> None:
    llama = LlamaBackend("0.3.36", False, ("cpu",), X86_INFO)
    info = HardwareInfo(16 << 30, 8 << 30, "cpu", 2, 2, "linux", "x86_64", (), llama)
    assert spec_from_info(info).cpu == AVX2
    assert spec_from_info(dataclasses.replace(info, llama=None)).cpu == NO_REPACK


def test_matrix_weights_by_layer_with_the_tied_head() -> None:
    tensors = [  # (name, type, shape, bytes, file part, offset)
        ("token_embd.weight", "Q4_0", (64, 1000), 36_000, 0, 1000),
        ("output_norm.weight", "F32", (64,), 256, 0, 37_000),
        ("blk.0.attn_q.weight", "Q4_K", (256, 64), 9_216, 0, 37_256),
        ("blk.0.attn_norm.weight", "F32", (64,), 256, 0, 46_472),
        ("blk.1.ffn_gate_exps.weight", "Q4_0", (64, 128, 4), 18_432, 1, 500),
        ("blk.1.ssm_conv1d.weight", "Q4_0", (4, 64), 144, 1, 18_932),
    ]
    weights, spans = file_layout(tensors, n_layer=2)
    assert weights == (
        MatmulWeight(0, "Q4_K", 64, 9_216),
        MatmulWeight(1, "Q4_0", 128, 18_432, expert=True),
        MatmulWeight(2, "Q4_0", 1000, 36_000, duplicate=True),
    )
    assert spans[0] == (INPUT_LAYER, 0, 1000, 37_000, -1) and spans[2] == (0, 0, 37_256, 46_472, 0)
    assert [span[4] for span in spans] == [-1, -1, 0, -1, 1, -1]


def test_the_mapped_range_leaves_out_repacked_tensors_at_its_ends() -> None:
    shape = dataclasses.replace(
        make_shape(n_layer=2, layer_bytes=2 * MIB),
        matmul_weights=(MatmulWeight(1, "Q4_K", 256, MIB), MatmulWeight(0, "Q8_0", 256, MIB)),
        tensor_spans=((INPUT_LAYER, 0, 0, 4 * MIB, -1), (0, 0, 4 * MIB, 5 * MIB, 1), (1, 0, 5 * MIB, 6 * MIB, 0)),
    )
    settings = LoadSettings(n_ctx=512, n_gpu_layers=0)
    assert estimate(shape, settings).host_weight_buffers == (6 * MIB, 0)
    assert estimate(shape, settings, cpu=AVX2).host_weight_buffers == (5 * MIB, MIB)
    offloaded = estimate(shape, dataclasses.replace(settings, n_gpu_layers=2))  # output and layer 1
    assert offloaded.mapped_bytes == 5 * MIB
    assert estimate(shape.scaled_weights(shape.weight_bytes), settings).mapped_bytes is None


def _shape(tied: bool = False) -> ModelShape:
    shape = make_shape(n_layer=2, layer_bytes=2 * MIB, tied=tied)
    weights = (
        MatmulWeight(0, "Q4_K", 256, MIB + 1),
        MatmulWeight(0, "Q8_0", 256, MIB // 2),
        MatmulWeight(1, "Q4_K", 256, MIB),
        MatmulWeight(2, "Q4_0", 1000, 5 * MIB, duplicate=tied),
    )
    return dataclasses.replace(shape, matmul_weights=weights)


def test_estimate_adds_the_repack_buffer_for_cpu_layers_only() -> None:
    shape = _shape()
    cpu = estimate(shape, LoadSettings(n_ctx=512, n_gpu_layers=0), cpu=AVX2)
    aligned_first = MIB + 32  # each repacked tensor sits at 32-byte alignment
    assert cpu.repack_bytes == aligned_first + MIB + 5 * MIB
    assert cpu.host_weight_buffers == (cpu.weights.cpu, cpu.repack_bytes)  # mmap: on top of the mapped file
    plain = estimate(shape, LoadSettings(n_ctx=512, n_gpu_layers=0))
    assert cpu.ram_bytes - plain.ram_bytes == cpu.repack_bytes
    no_mmap = estimate(shape, LoadSettings(n_ctx=512, n_gpu_layers=0, mmap=False), cpu=AVX2)
    assert sum(no_mmap.host_weight_buffers) == no_mmap.weights.cpu + 31  # the copies replace the tensors
    offloaded = estimate(shape, LoadSettings(n_ctx=512, n_gpu_layers=2), cpu=AVX2)  # output + layer 1
    assert offloaded.repack_bytes == aligned_first



def test_repacking_turned_off_keeps_every_weight_plain() -> None:
    """llama.cpp's --no-repack (the engine's `repack=False`): no extra buffer type, so no CPU_REPACK."""
    shape = _shape()
    for mmap in (True, False):
        settings = LoadSettings(n_ctx=512, n_gpu_layers=0, mmap=mmap)
        off = estimate(shape, dataclasses.replace(settings, repack=False), cpu=AVX2)
        assert off.repack_bytes == 0 and off.host_weight_buffers == estimate(shape, settings).host_weight_buffers
    assert engine_load_settings(EngineSettings(repack=False)).repack is False


def test_a_tied_head_is_repacked_as_a_second_load() -> None:
    est = estimate(_shape(tied=True), LoadSettings(n_ctx=512, n_gpu_layers=0, mmap=False), cpu=AVX2)
    assert est.repack_source_bytes == MIB + 1 + MIB  # the embeddings stay in the CPU buffer too
    assert est.repack_bytes == MIB + 32 + MIB + 5 * MIB
