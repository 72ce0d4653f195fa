"""Gemma 4's pieces: the full layers' widths, the proportional-rope factors, renames, the router scales and the
tokenizer.json vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest

from app.convert.gemma4 import check, rename, rewrite, rope_freqs
from app.convert.safetensors_file import TensorRef
from app.convert.vocab import gemma4_vocab
from app.core.errors import ConvertError

_ROPE = {
    "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1e6},
    "sliding_attention": {"rope_type": "default", "rope_theta": 1e4},
}


def _hp(**extra: object) -> dict[str, object]:
    kinds = ["sliding_attention"] * 5 + ["full_attention"]
    return {"layer_types": kinds, "head_dim": 256, "rope_parameters": _ROPE, **extra}


def test_rope_freqs_switch_off_the_unrotated_pairs_of_a_full_head() -> None:
    ((name, values),) = rope_freqs(_hp(global_head_dim=512))
    assert name == "rope_freqs.weight" and values.dtype == np.float32
    assert values.tolist() == [1.0] * 64 + [np.float32(1e30)] * 192


def test_the_full_head_width_comes_from_the_first_full_layer_when_not_global() -> None:
    hp = _hp(per_layer_config={"2": {"head_dim": 128}, "5": {"head_dim": 512}})
    ((_, values),) = rope_freqs(hp)
    assert len(values) == 256  # layer 2 is a sliding one: its entry does not count


def test_refusals_name_the_reason() -> None:
    with pytest.raises(ConvertError, match="no head width"):
        check(_hp())
    other = {**_ROPE, "full_attention": {"rope_type": "default", "rope_theta": 1e6}}
    with pytest.raises(ConvertError, match="proportional"):
        check(_hp(global_head_dim=512, rope_parameters=other))


def test_renames_and_router_scales() -> None:
    assert rename("model.layers.3.layer_scalar", {}) == "model.layers.3.layer_scalar.weight"
    assert rename("model.layers.3.experts.gate_up_proj", {}) == "model.layers.3.experts.gate_up_proj.weight"
    assert rename("model.embed_vision.embedding_projection.weight", {}) is None
    assert rename("model.layers.3.mlp.up_proj.weight", {}) == "model.layers.3.mlp.up_proj.weight"
    ref = TensorRef(name="s", dtype="F32", shape=(4,), path=Path("/nonexistent"), offset=0, nbytes=16)
    (piece,) = rewrite("model.layers.3.router.per_expert_scale", ref, {}) or []
    assert (piece.name, piece.shape, piece.gguf_name) == ("blk.3.ffn_down_exps.scale", (4,), True)
    (piece,) = rewrite("model.layers.3.router.scale", ref, {}) or []
    assert piece.name == "blk.3.ffn_gate_inp.scale"
    assert rewrite("model.layers.3.router.proj.weight", ref, {}) is None


def test_vocabulary_types_as_llama_cpp_converter_gives_them(tmp_path: Path) -> None:
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4, "<|channel>": 5, "<|turn>": 6}
    vocab |= {"<0x0A>": 7, "\u2581a": 8}
    tokenizer = {
        "model": {"type": "BPE", "byte_fallback": True, "vocab": vocab, "merges": []},
        "decoder": {"type": "Sequence", "decoders": []},
        "added_tokens": [
            {"id": 6, "content": "<|turn>", "special": True},
            {"id": 9, "content": "<extra>", "special": True},
        ],
    }
    (tmp_path / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<bos>"}), encoding="utf-8")
    got = gemma4_vocab(tmp_path)
    t = gguf.TokenType
    assert got.model == "gemma4" and got.pre is None and got.scores == [-1000.0] * 10
    assert got.tokens[8:] == ["\u2581a".encode(), b"<extra>"]
    # named roles (with GemmaTokenizer's defaults) are control; an added token past the vocabulary that no
    # role names is user-defined, one inside it normal; the chat-format markers always user-defined
    assert got.types == [t.CONTROL] * 5 + [t.USER_DEFINED, t.NORMAL, t.BYTE, t.NORMAL, t.USER_DEFINED]


def test_a_tokenizer_json_that_is_not_gemma_4s_is_refused(tmp_path: Path) -> None:
    tokenizer = {"model": {"type": "BPE", "vocab": {"a": 0}}, "decoder": {"type": "ByteLevel"}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    with pytest.raises(ConvertError, match="byte-fallback BPE"):
        gemma4_vocab(tmp_path)
