"""Pieces of the MoE and newer-family conversion that can be checked without a model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from app.convert import mxfp4
from app.convert.architectures import ARCHITECTURES, _llama3_rope_factors, check_config
from app.convert.experts import ExpertMerger, Experts
from app.convert.pieces import split_rows
from app.convert.safetensors_file import TensorRef
from app.convert.text_params import find
from app.core.errors import ConvertError


def _ref(name: str, shape: tuple[int, ...], dtype: str = "F32") -> TensorRef:
    return TensorRef(name=name, dtype=dtype, shape=shape, path=Path("x.safetensors"), offset=0, nbytes=0)


def test_split_rows_takes_each_experts_halves() -> None:
    x = np.arange(3 * 8 * 5).reshape(3, 8, 5)
    (gate_rows, gate_shape), (up_rows, up_shape) = split_rows(_ref("w", x.shape), [4, 4])
    flat = x.reshape(-1, 5)
    assert gate_shape == up_shape == (3, 4, 5)
    assert np.array_equal(flat[gate_rows].reshape(gate_shape), x[:, :4])
    assert np.array_equal(flat[up_rows].reshape(up_shape), x[:, 4:])


def test_mxfp4_repack_moves_nibbles_to_ggml_order() -> None:
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 256, size=(2, 3, 4, 16), dtype=np.uint8)
    scales = rng.integers(0, 256, size=(2, 3, 4), dtype=np.uint8)
    out = mxfp4.repack(blocks, scales).reshape(2, 3, 4, 17)
    values = np.empty((2, 3, 4, 32), dtype=np.uint8)  # value 2i: low nibble of byte i; 2i+1: high nibble
    values[..., 0::2], values[..., 1::2] = blocks & 0x0F, blocks >> 4
    assert np.array_equal(out[..., 0], scales)
    assert np.array_equal(out[..., 1:] & 0x0F, values[..., :16])  # byte k: value k low, value k+16 high
    assert np.array_equal(out[..., 1:] >> 4, values[..., 16:])


def test_expert_merger_stacks_a_complete_layer_in_the_converters_order() -> None:
    spec = Experts(r"l\.(?P<bid>\d+)\.e\.(?P<xid>\d+)\.(?P<w>\w+)", ("down", "gate", "up"), "m.{bid}.{w}")
    merger = ExpertMerger(spec, {"num_experts": 2})
    names = [f"l.0.e.{x}.{w}" for x in (1, 0) for w in ("up", "down", "gate")]
    results = [merger.add(n, _ref(n, (4, 4))) for n in names]
    assert results[:-1] == [[]] * 5
    assert [(m.name, [p.name for p in m.parts]) for m in results[-1] or []] == [
        ("m.0.down", ["l.0.e.0.down", "l.0.e.1.down"]),
        ("m.0.gate", ["l.0.e.0.gate", "l.0.e.1.gate"]),
        ("m.0.up", ["l.0.e.0.up", "l.0.e.1.up"]),
    ]
    assert merger.add("l.0.attn", _ref("l.0.attn", (4, 4))) is None
    merger.add("l.1.e.0.up", _ref("l.1.e.0.up", (4, 4)))
    with pytest.raises(ConvertError, match="layer 1 has 1 of its 6 expert tensors"):
        merger.finish()
    with pytest.raises(ConvertError, match="not an expert"):
        merger.add("l.2.e.7.up", _ref("l.2.e.7.up", (4, 4)))


def test_unsupported_architecture_is_refused_with_the_way_out() -> None:
    assert check_config({"architectures": ["Qwen3MoeForCausalLM"]}).name == "qwen3moe"
    with pytest.raises(ConvertError) as caught:
        check_config({"architectures": ["BloomForCausalLM"]})
    assert "BloomForCausalLM" in str(caught.value)
    assert "convert_hf_to_gguf.py" in (caught.value.hint or "")
    assert all(a.label in (caught.value.hint or "") for a in ARCHITECTURES)


def test_a_key_present_as_null_wins_as_in_llama_cpp() -> None:
    assert find({"n_layers": None, "num_hidden_layers": 4}, "n_layers", "num_hidden_layers") is None
    assert find({"num_hidden_layers": 4}, "n_layers", "num_hidden_layers") == 4


def test_llama3_rope_factors_equal_torchs_for_llama_3_1() -> None:
    torch = pytest.importorskip("torch")
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}
    hp = {
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "rope_theta": 500000.0,
        "rope_scaling": {**scaling, "original_max_position_embeddings": 8192},
    }
    ((_, ours),) = _llama3_rope_factors(hp)
    # llama.cpp's converter's arithmetic, in torch
    freqs = 1.0 / (500000.0 ** (torch.arange(0, 128, 2, dtype=torch.float32) / 128))
    out = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < 8192 / 4.0:
            out.append(1)
        elif wavelen > 8192 / 1.0:
            out.append(8.0)
        else:
            smooth = (8192 / wavelen - 1.0) / (4.0 - 1.0)
            out.append(1 / ((1 - smooth) / 8.0 + smooth))
    assert ours.tobytes() == torch.tensor(out, dtype=torch.float32).numpy().tobytes()


def test_e4m3_values_are_torchs() -> None:
    torch = pytest.importorskip("torch")
    from app.convert.fp8 import E4M3

    expected = torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn).float().numpy()
    assert np.array_equal(E4M3, expected, equal_nan=True)
