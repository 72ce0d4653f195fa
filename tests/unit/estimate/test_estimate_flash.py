"""Architectures llama.cpp cannot run with flash attention (app.estimate.flash): the estimate lays their
cache out and sizes their compute buffer as without it, whatever is asked, as the engine then loads them;
tests/integration/estimate/test_engine_buffers.py compares a PLM model with the engine's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import EstimateError
from app.estimate import FlashAttn, LoadSettings, ModelShape, estimate
from app.estimate.flash import usable_flash_attn
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from app.gguf.synthetic_arch import TRANSFORMER_SPECS, write_arch_gguf


@pytest.fixture(scope="module")
def plm(tmp_path_factory: pytest.TempPathFactory) -> ModelShape:
    path = write_arch_gguf(tmp_path_factory.mktemp("plm") / "plm.gguf", TRANSFORMER_SPECS["plm"])
    return shape_from_header(read_model(path))


@pytest.mark.parametrize("asked", [FlashAttn.AUTO, FlashAttn.ON])
def test_plm_is_estimated_as_without_flash_attention(plm: ModelShape, asked: FlashAttn) -> None:
    off = estimate(plm, LoadSettings(n_ctx=2048, flash_attn=FlashAttn.OFF), gpu_available=False)
    est = estimate(plm, LoadSettings(n_ctx=2048, flash_attn=asked), gpu_available=False)
    assert est.compute.cpu == off.compute.cpu  # f32 mask and the score matrix, as without flash attention
    assert est.kv_bytes == off.kv_bytes and est.ram_bytes == off.ram_bytes


def test_flash_attention_changes_the_estimate_where_llama_cpp_uses_it(tmp_path: Path) -> None:
    """The check above means something: for a model llama.cpp runs with flash attention, it differs."""
    llama = shape_from_header(read_model(write_arch_gguf(tmp_path / "llama.gguf", TRANSFORMER_SPECS["llama"])))
    off, auto = (estimate(llama, LoadSettings(n_ctx=2048, flash_attn=fa), gpu_available=False)
                 for fa in (FlashAttn.OFF, FlashAttn.AUTO))
    assert off.compute.cpu != auto.compute.cpu


def test_a_quantized_v_cache_is_refused_for_plm_with_the_reason(plm: ModelShape) -> None:
    with pytest.raises(EstimateError, match="needs flash attention, which plm models cannot use"):
        estimate(plm, LoadSettings(n_ctx=2048, type_k="q8_0", type_v="q8_0"), gpu_available=False)


def test_usable_flash_attn() -> None:
    assert usable_flash_attn("plm", FlashAttn.ON) is FlashAttn.OFF
    assert usable_flash_attn("grok", FlashAttn.AUTO) is FlashAttn.OFF
    assert usable_flash_attn("llama", FlashAttn.ON) is FlashAttn.ON
    assert usable_flash_attn("llama", FlashAttn.AUTO) is FlashAttn.AUTO
