"""Hybrid families' hyper-parameter readings and row orders (app.convert.hybrids), without any model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.convert.hparams import NO_MTP
from app.convert.hybrids import (
    _falcon_in_proj,
    _scaled,
    _split_qkvz,
    _tiled,
    granite_hybrid_attention_layers,
    nemotron_h_layers,
    qwen_mtp_prepare,
    qwen_mtp_rename,
)
from app.convert.safetensors_file import TensorRef
from app.core.errors import ConvertError


def _ref(name: str, shape: tuple[int, ...]) -> TensorRef:
    return TensorRef(name=name, dtype="F32", shape=shape, path=Path("/nonexistent"), offset=0, nbytes=0)


def test_mtp_layers_counted_from_the_checkpoint_and_dropped_on_request() -> None:
    tensors = {n: _ref(n, (4,)) for n in ("model.layers.0.x", "mtp.layers.0.x", "mtp.layers.1.x", "mtp.fc.weight")}
    hp = {"num_hidden_layers": 2}
    assert qwen_mtp_prepare(hp, tensors)["_n_mtp"] == 2
    assert qwen_mtp_prepare({**hp, NO_MTP: True}, tensors)["_n_mtp"] == 0
    # no MTP tensors: none written, even where the config names some (llama.cpp's converter would stop there)
    assert qwen_mtp_prepare({**hp, "mtp_num_hidden_layers": 1}, {"model.layers.0.x": _ref("a", (4,))})["_n_mtp"] == 0
    prepared = qwen_mtp_prepare(hp, tensors)
    assert qwen_mtp_rename("mtp.layers.1.mlp.gate.weight", prepared) == "model.layers.3.mlp.gate.weight"
    assert qwen_mtp_rename("mtp.pre_fc_norm_hidden.weight", prepared) == "model.layers.2.hnorm.weight"
    assert qwen_mtp_rename("mtp.fc.weight", {**hp, "_n_mtp": 0}) is None


def test_qkvz_rows_regrouped_from_per_head_to_per_projection() -> None:
    hp = {"linear_num_key_heads": 2, "linear_num_value_heads": 2, "linear_key_head_dim": 1, "linear_value_head_dim": 1}
    # per key head: q, k, v, z (one row each)
    qkv, z = _split_qkvz("model.layers.3.linear_attn.in_proj_qkvz.weight", _ref("w", (8, 16)), hp)
    assert (qkv.name, z.name) == ("blk.3.attn_qkv.weight", "blk.3.attn_gate.weight")
    assert qkv.rows is not None and z.rows is not None
    assert qkv.rows.tolist() == [0, 4, 1, 5, 2, 6] and z.rows.tolist() == [3, 7]


def test_value_heads_tiled_by_key_head() -> None:
    # two key heads with two value heads each: grouped [k0v0, k0v1, k1v0, k1v1] -> tiled [k0v0, k1v0, k0v1, k1v1]
    assert _tiled(2, 2, 1).tolist() == [0, 2, 1, 3]
    assert _tiled(2, 2, 2, offset=10).tolist() == [10, 11, 14, 15, 12, 13, 16, 17]


@pytest.mark.parametrize(
    ("layer_types", "expected"),
    [(["mamba", "attention", "mamba"], [1]), (["linear_attention", "full_attention", "linear_attention"], [1])],
)
def test_granite_hybrid_reads_both_spellings_of_layer_types(layer_types: list[str], expected: list[int]) -> None:
    assert granite_hybrid_attention_layers({"num_hidden_layers": 3, "layer_types": layer_types}) == expected


def test_granite_hybrid_needs_some_way_to_place_attention() -> None:
    with pytest.raises(ConvertError):
        granite_hybrid_attention_layers({"num_hidden_layers": 3})


def test_multipliers_round_once_each_in_their_order() -> None:
    x = np.array([[1.1, -3.3]], dtype=np.float32)
    got = _scaled(0.390625, 1.1)(x, np.array([0]))
    assert got.tobytes() == ((x * np.float32(0.390625)) * np.float32(1.1)).tobytes()
    half = _scaled(1.1)(x.astype(np.float16), np.array([0]))
    assert half.dtype == np.float16


def test_falcon_in_proj_multiplies_each_part_of_its_rows() -> None:
    hp = {
        "mamba_d_ssm": 2,
        "mamba_n_groups": 1,
        "mamba_d_state": 1,
        "ssm_multipliers": [2.0, 3.0, 5.0, 7.0, 11.0],
        "ssm_in_multiplier": 1.0,
    }
    rows = np.arange(8)  # z z x x B C dt dt
    got = _falcon_in_proj(hp)(np.ones((8, 1), dtype=np.float32), rows)
    assert got[:, 0].tolist() == [2, 2, 3, 3, 5, 7, 11, 11]


def test_nemotron_h_layer_kinds_from_the_pattern_string_or_transformers_5_list() -> None:
    assert nemotron_h_layers({"hybrid_override_pattern": "M-*-", "num_hidden_layers": 4}) == [
        "mamba", "mlp", "attention", "mlp",
    ]
    listed = {"layers_block_type": ["mamba", "mlp", "attention", "mlp"], "num_experts_per_tok": 2}
    assert nemotron_h_layers(listed) == ["mamba", "mlp", "attention", "mlp"]  # expert keys alone: still dense
    assert nemotron_h_layers({"hybrid_override_pattern": "ME*E"}) == ["mamba", "moe", "attention", "moe"]
    with pytest.raises(ConvertError, match=r"kinds llama\.cpp does not know"):
        nemotron_h_layers({"hybrid_override_pattern": "M?*-"})
    with pytest.raises(ConvertError, match="names 3 layers"):
        nemotron_h_layers({"hybrid_override_pattern": "M-*-", "num_hidden_layers": 3})
    with pytest.raises(ConvertError, match="no hybrid_override_pattern"):
        nemotron_h_layers({})


def test_nemotron_h_converts_as_its_experts_variant_only_when_the_pattern_has_expert_layers() -> None:
    from app.convert.architectures import check_config

    def config(**extra: object) -> dict[str, object]:
        return {"architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h", **extra}

    assert check_config(config(hybrid_override_pattern="ME*E")).name == "nemotron_h_moe"
    assert check_config(config(layers_block_type=["mamba", "moe"])).name == "nemotron_h_moe"
    # Transformers 5 writes expert keys into every Nemotron-H config: a dense pattern stays dense
    assert check_config(config(hybrid_override_pattern="M-*-", num_experts_per_tok=2)).name == "nemotron_h"


def test_nemotron_h_mtp_head_kept_as_one_block_or_dropped_on_request() -> None:
    from app.convert.hybrids import nemotron_h_prepare, nemotron_h_rename

    hp = {"hybrid_override_pattern": "ME*E", "num_nextn_predict_layers": 1}
    names = ("backbone.layers.0.norm.weight", "mtp.layers.0.eh_proj.weight", "mtp.layers.1.norm.weight")
    tensors = {n: _ref(n, (4,)) for n in names}
    kept = nemotron_h_prepare(hp, tensors)
    assert (kept["num_hidden_layers"], kept["_n_mtp"]) == (4, 1)
    # both parts of the head land in block 4, their own tensors under the trunk's names, the rest by role
    assert nemotron_h_rename("mtp.layers.0.eh_proj.weight", kept) == "model.layers.4.eh_proj.weight"
    assert nemotron_h_rename("mtp.layers.0.mixer.q_proj.weight", kept) == "backbone.layers.4.mixer.q_proj.weight"
    assert nemotron_h_rename("mtp.layers.1.norm.weight", kept) == "model.layers.4.post_attention_layernorm.weight"
    assert nemotron_h_rename("mtp.layers.1.final_layernorm.weight", kept) == "model.layers.4.shared_head.norm.weight"
    assert nemotron_h_rename("backbone.layers.0.norm.weight", kept) == "backbone.layers.0.norm.weight"
    dropped = nemotron_h_prepare({**hp, NO_MTP: True}, tensors)
    assert (dropped["num_hidden_layers"], dropped["_n_mtp"]) == (4, 0)
    assert nemotron_h_rename("mtp.layers.0.eh_proj.weight", dropped) is None
    # config.json names an MTP layer the checkpoint lacks (saved by Transformers): none is written
    assert nemotron_h_prepare(hp, {"backbone.layers.0.norm.weight": _ref("a", (4,))})["_n_mtp"] == 0


@pytest.mark.parametrize(
    ("pattern", "n_nextn", "message"),
    [("M-*-", 1, "without experts"), ("ME*E", 2, "num_nextn_predict_layers 2"), ("ME*E", 0, "0")],
)
def test_nemotron_h_mtp_heads_llama_cpp_cannot_take_are_refused(pattern: str, n_nextn: int, message: str) -> None:
    from app.convert.hybrids import nemotron_h_prepare

    hp = {"hybrid_override_pattern": pattern, "num_nextn_predict_layers": n_nextn}
    tensors = {"mtp.layers.0.eh_proj.weight": _ref("a", (4,))}
    with pytest.raises(ConvertError, match=message) as caught:
        nemotron_h_prepare(hp, tensors)
    assert "--no-mtp" in (caught.value.hint or "")
    assert nemotron_h_prepare({**hp, NO_MTP: True}, tensors)["_n_mtp"] == 0
