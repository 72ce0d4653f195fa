from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.core.errors import GGUFError
from app.gguf import model_facts, read_header, read_header_bytes, read_model
from app.gguf.facts import ModelFacts, swa_layer_pattern
from app.gguf.values import ValueType as T
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf
from tests.unit.gguf.ggufbytes import Gguf, Tensor


def _facts(arch: str, n_layer: int = 6, keys: dict[str, Any] | None = None) -> ModelFacts:
    g = Gguf().add("general.architecture", T.STRING, arch)
    g.add(f"{arch}.block_count", T.UINT32, n_layer).add(f"{arch}.embedding_length", T.UINT32, 64)
    g.add(f"{arch}.attention.head_count", T.UINT32, 4)
    for key, (vtype, value) in (keys or {}).items():
        g.add(f"{arch}.{key}", vtype, value)
    g.tensors = [Tensor("token_embd.weight", (64, 100), 0)]
    return model_facts(read_header_bytes(g.build()))


def test_gemma3_270m(gemma_model: Path) -> None:
    f = model_facts(read_model(gemma_model))
    assert (f.architecture, f.name, f.file_type) == ("gemma3", "Gemma 3 270m", "Q4_K_M")
    assert (f.n_layer, f.n_embd, f.context_length, f.vocab_size) == (18, 640, 32768, 262_144)
    assert f.n_head == (4,) * 18 and f.n_head_kv == (1,) * 18
    assert (f.head_k, f.head_v, f.head_k_swa, f.head_v_swa) == (256, 256, 256, 256)
    assert f.swa_type == "standard" and f.sliding_window == 512
    assert [il for il, swa in enumerate(f.swa_layers) if not swa] == [5, 11, 17]
    assert f.n_params == 268_098_176
    assert f.weight_bytes == sum(f.tensor_types.values())
    assert 7 < f.bits_per_weight < 8
    assert not f.has_chat_template
    assert (f.bos_token_id, f.eos_token_id) == (2, 1)
    assert not f.uses_mla and f.uses_swa


def test_generated_model_with_per_layer_heads(tmp_path: Path) -> None:
    spec = TinySpec(n_layer=3, n_embd=64, n_head=4, n_head_kv=[2, 1, 4], n_ff=[64, 96, 128], chat_template="{{x}}")
    f = model_facts(read_header(write_tiny_gguf(tmp_path / "m.gguf", spec)))
    assert f.architecture == "deci"
    assert f.n_head == (4, 4, 4) and f.n_head_kv == (2, 1, 4) and f.n_ff == (64, 96, 128)
    assert (f.head_k, f.head_v, f.n_rot) == (16, 16, 16)
    assert f.has_chat_template and f.chat_template == "{{x}}"
    assert f.file_type == "F32" and f.bits_per_weight == 32.0
    assert f.vocab_size == 512 and f.swa_type == "none" and not any(f.swa_layers)


def test_explicit_head_sizes_and_mla() -> None:
    f = _facts(
        "deepseek2",
        keys={
            "attention.key_length": (T.UINT32, 192),
            "attention.value_length": (T.UINT32, 128),
            "attention.kv_lora_rank": (T.UINT32, 512),
            "attention.key_length_mla": (T.UINT32, 576),
            "attention.value_length_mla": (T.UINT32, 512),
            "rope.dimension_count": (T.UINT32, 64),
            "expert_count": (T.UINT32, 64),
            "expert_used_count": (T.UINT32, 6),
        },
    )
    assert (f.head_k, f.head_v, f.n_rot) == (192, 128, 64)
    assert (f.kv_lora_rank, f.key_length_mla, f.value_length_mla) == (512, 576, 512)
    assert (f.n_expert, f.n_expert_used) == (64, 6)
    assert f.uses_mla
    assert f.vocab_size == 100  # from token_embd when there is no vocabulary


def test_swa_pattern_helper_matches_llama_cpp() -> None:
    assert swa_layer_pattern(6, 3) == (True, True, False, True, True, False)
    assert swa_layer_pattern(6, 3, dense_first=True) == (False, True, True, False, True, True)
    assert swa_layer_pattern(3, 0) == (True, True, True)
    assert swa_layer_pattern(3, 1) == (False, False, False)


def test_gemma2_defaults_to_a_4096_window_every_other_layer() -> None:
    f = _facts("gemma2", n_layer=4)
    assert (f.swa_type, f.sliding_window, f.swa_layers) == ("standard", 4096, (True, False, True, False))


def test_gemma3_without_a_window_has_no_swa() -> None:
    assert _facts("gemma3").swa_type == "none"
    assert _facts("gemma3", keys={"attention.sliding_window": (T.UINT32, 0)}).swa_type == "none"


def test_pattern_overrides() -> None:
    scalar = _facts(
        "gemma3",
        n_layer=4,
        keys={"attention.sliding_window": (T.UINT32, 128), "attention.sliding_window_pattern": (T.UINT32, 2)},
    )
    assert scalar.swa_layers == (True, False, True, False)
    flags = _facts(
        "gemma3",
        n_layer=4,
        keys={
            "attention.sliding_window": (T.UINT32, 128),
            "attention.sliding_window_pattern": (T.ARRAY, (T.BOOL, [False, True])),
        },
    )
    assert flags.swa_layers == (False, True, False, False)
    # architectures that need the per-layer array have no SWA without it
    assert _facts("gpt-oss", n_layer=4, keys={"attention.sliding_window": (T.UINT32, 128)}).swa_layers == (
        True,
        False,
        True,
        False,
    )
    assert _facts("granite_swa", keys={"attention.sliding_window": (T.UINT32, 128)}).swa_type == "none"


def test_llama4_chunked_attention() -> None:
    f = _facts("llama4", n_layer=4, keys={"attention.sliding_window": (T.UINT32, 1234)})
    assert (f.swa_type, f.sliding_window, f.swa_layers) == ("chunked", 8192, (True, True, True, False))
    assert _facts("llama4", keys={"attention.sliding_window": (T.UINT32, 0)}).swa_type == "none"


def test_phi3_swa_is_disabled_and_cohere2moe_is_dense_first() -> None:
    assert _facts("phi3", keys={"attention.sliding_window": (T.UINT32, 2047)}).swa_type == "none"
    f = _facts("cohere2moe", n_layer=4, keys={"attention.sliding_window": (T.UINT32, 4096)})
    assert f.swa_layers == (False, True, True, True)


def test_per_layer_array_of_the_wrong_length() -> None:
    with pytest.raises(GGUFError, match="head_count_kv has 2 entries for 6 layers"):
        _facts("llama", keys={"attention.head_count_kv": (T.ARRAY, (T.UINT32, [1, 2]))})


def test_model_without_architecture() -> None:
    with pytest.raises(GGUFError, match=r"no general\.architecture"):
        model_facts(read_header_bytes(Gguf().build()))
