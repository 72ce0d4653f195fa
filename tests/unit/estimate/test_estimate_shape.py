"""ModelShape from GGUF headers: weight grouping and the architecture rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import EstimateError
from app.estimate.model import group_weights
from app.estimate.shape import shape_from_header
from app.gguf import read_model
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf


def test_group_weights_by_llama_cpp_layers() -> None:
    tensors = [
        ("token_embd.weight", 100),
        ("rope_freqs.weight", 3),
        ("blk.0.attn_q.weight", 10),
        ("blk.1.attn_q.weight", 11),
        ("blk.1.ffn_down.weight", 5),
        ("output_norm.weight", 2),
        ("output.weight", 50),
    ]
    groups = group_weights(tensors, 2)
    assert (groups.input_bytes, groups.layer_bytes, groups.output_bytes) == (100, (13, 16), 52)
    assert groups.tied_output_bytes == 0
    tied = group_weights([t for t in tensors if t[0] != "output.weight"], 2)
    assert tied.tied_output_bytes == 100
    with pytest.raises(EstimateError, match="layer 5"):
        group_weights([("blk.5.attn_q.weight", 1)], 2)


def test_shape_from_tiny_header(tmp_path: Path) -> None:
    spec = TinySpec(n_layer=3, n_embd=64, n_head=[4, 4, 2], n_head_kv=[2, 1, 2], n_ff=[128, 64, 128])
    shape = shape_from_header(read_model(write_tiny_gguf(tmp_path / "t.gguf", spec)))
    assert shape.n_head_kv == (2, 1, 2) and shape.head_k == 16 and shape.n_vocab == 512
    assert shape.k_width(1) == 16 and not shape.has_swa
    assert shape.weight_bytes == sum(t.n_bytes for t in read_model(tmp_path / "t.gguf").tensors)


def test_architectures_without_a_modelled_cache(tmp_path: Path) -> None:
    mamba = write_tiny_gguf(tmp_path / "m.gguf", TinySpec(architecture="mamba"))  # no ssm.* keys
    with pytest.raises(EstimateError, match=r"lacks ssm\.conv_kernel"):
        shape_from_header(read_model(mamba))
    t5 = write_tiny_gguf(tmp_path / "t5.gguf", TinySpec(architecture="t5"))
    with pytest.raises(EstimateError, match="encoder–decoder"):
        shape_from_header(read_model(t5))
    bert = shape_from_header(read_model(write_tiny_gguf(tmp_path / "b.gguf", TinySpec(architecture="bert"))))
    assert not any(bert.kv_layers)


def test_nextn_layers_have_no_cache(tmp_path: Path) -> None:
    spec = TinySpec(n_layer=3, extra_metadata=(("llama.nextn_predict_layers", 1),))
    shape = shape_from_header(read_model(write_tiny_gguf(tmp_path / "n.gguf", spec)))
    assert shape.kv_layers == (True, True, False)


def test_gemma_shape(gemma_model: Path) -> None:
    shape = shape_from_header(read_model(gemma_model))
    assert shape.arch == "gemma3" and shape.n_layer == 18 and shape.n_swa == 512
    assert [il for il in range(18) if not shape.swa_layers[il]] == [5, 11, 17]
    assert shape.tied_output_bytes > 0 and shape.n_vocab == 262144


def test_mtp_blocks_of_skipping_architectures_are_unloaded() -> None:
    from app.estimate.model import UNLOADED_LAYER, file_layout, loaded_layers

    assert loaded_layers("glm4moe", 5, 1) == 4 and loaded_layers("qwen35", 5, 1) == 4
    assert loaded_layers("llama", 5, 1) == 5  # llama loads every block, MTP or not
    assert loaded_layers("glm4moe", 5, 0) == 5 and loaded_layers("glm4moe", 1, 1) == 1
    tensors = [
        ("token_embd.weight", 100),
        ("blk.0.attn_q.weight", 10),
        ("blk.1.attn_q.weight", 7),
        ("output.weight", 5),
    ]
    groups = group_weights(tensors, 2, n_loaded=1)
    assert groups.layer_bytes == (10, 0) and groups.unloaded_bytes == 7
    files = [(name, "F32", (4, 4), n, 0, 0) for name, n in tensors]
    weights, spans = file_layout(files, 2, n_loaded=1)
    assert spans[2][0] == UNLOADED_LAYER and all(w.layer != UNLOADED_LAYER for w in weights)


def test_moe_widths_from_expert_shapes() -> None:
    from app.estimate.model import moe_widths

    tensors = [
        ("blk.0.ffn_up.weight", (64, 96)),
        ("blk.1.ffn_up_exps.weight", (64, 48, 8)),
        ("blk.1.ffn_down_shexp.weight", (32, 64)),
        ("blk.2.ffn_gate_up_exps.weight", (64, 80, 8)),
    ]
    assert moe_widths(tensors, 3, 2) == (0, 2 * 48 + 32, 2 * 40)
    assert moe_widths(tensors[:1], 3, 2) == ()
