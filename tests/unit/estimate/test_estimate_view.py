"""The Chat load panel's figures, and that Discover shows the same ones: one estimate, one engine mapping."""

from __future__ import annotations

import dataclasses

import pytest

from app.chat.protocol import EngineSettings
from app.estimate import HardwareSpec, LoadSettings, ModelShape, VerdictKind, engine_load_settings, estimate
from app.estimate.cpu import cpu_backend
from app.estimate.model import MatmulWeight
from app.estimate.view import ModelFile, engine_estimate, memory_view
from app.hub.fit import fit_quants
from app.hub.models import Quant, RepoDetail, RepoFile
from tests.unit.estimate.shapes import MIB, make_shape

GIB = 1024 * MIB
CPU = cpu_backend("CPU : AVX = 1 | AVX2 = 1 | FMA = 1 | REPACK = 1 | ")
MACHINE = HardwareSpec(32 * GIB, 16 * GIB, cpu=CPU)


def _shape() -> ModelShape:
    shape = make_shape(n_layer=4, n_vocab=32_000, layer_bytes=20 * MIB)
    weights = tuple(MatmulWeight(il, "Q4_K", 256, 4 * MIB) for il in range(4))
    return dataclasses.replace(shape, matmul_weights=weights)


def _detail(reference_size: int) -> RepoDetail:
    quants = tuple(
        Quant(label, (RepoFile(f"m-{label}.gguf", size, None),))
        for label, size in (("Q4_K_M", reference_size), ("Q8_0", 2 * reference_size))
    )
    return RepoDetail("o/m", "o", "abc", "", False, 0, 0, None, None, "llama", 8192, quants, (), (), ())


def test_the_panel_shows_llama_cpp_buffers_and_the_engine_verdict() -> None:
    shape = _shape()
    model = ModelFile("m.gguf", "m", 8192, shape.n_layer, shape)
    view = memory_view(model, EngineSettings(n_ctx=4096), MACHINE)
    est = estimate(shape, engine_load_settings(EngineSettings(n_ctx=4096)), gpu_available=False, cpu=CPU)
    assert view.ram_bytes == est.ram_bytes and est.repack_bytes == 4 * 4 * MIB
    assert view.kind is VerdictKind.CPU_ONLY and view.ok and view.verdict == "Fits in RAM (CPU only)"
    unknown = memory_view(model, EngineSettings(n_ctx=4096), None)
    assert unknown.kind is None and unknown.ram_bytes == est.ram_bytes - est.repack_bytes  # no features yet


@pytest.mark.parametrize("n_ctx", [4096, 32768])
def test_discover_and_the_chat_panel_show_the_same_figure(n_ctx: int) -> None:
    shape = _shape()
    fit = fit_quants(_detail(shape.weight_bytes + 4 * MIB), MACHINE, n_ctx, shape)
    discover = fit.fits[0].verdict  # the quant whose header was read is judged on its own shape
    assert (
        fit.exact
        and discover.detail is not None
        and discover.detail.estimate.settings == engine_load_settings(EngineSettings(n_ctx=n_ctx, n_gpu_layers=0))
    )
    panel = memory_view(ModelFile("m.gguf", "m", 8192, 4, shape), EngineSettings(n_ctx=n_ctx), MACHINE)
    assert (
        discover.ram_bytes == panel.ram_bytes == engine_estimate(shape, EngineSettings(n_ctx=n_ctx), MACHINE).ram_bytes
    )
    assert discover.label == panel.verdict


def test_engine_and_llama_cpp_defaults_differ_in_the_compute_buffer() -> None:
    shape = make_shape(n_vocab=262_144, n_embd=640)
    engine = estimate(shape, engine_load_settings(EngineSettings(n_ctx=4096)), gpu_available=False)
    defaults = estimate(shape, LoadSettings(n_ctx=4096, n_gpu_layers=0), gpu_available=False)
    assert defaults.compute.cpu - engine.compute.cpu > 400 * MIB  # 512 logits rows of a 262k vocabulary
