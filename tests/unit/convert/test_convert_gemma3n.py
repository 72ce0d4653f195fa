"""Gemma 3n's pieces: AltUp stacks, padded embeddings, renamed scales, the sparsity quantiles."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from app.convert.experts import ExpertMerger
from app.convert.gemma3n import ALTUP_STACKS, check, rename, rewrite, sparsity_quantile
from app.convert.safetensors_file import TensorRef
from app.core.errors import ConvertError


def _ref(name: str, shape: tuple[int, ...]) -> TensorRef:
    return TensorRef(name=name, dtype="F32", shape=shape, path=Path("/nonexistent"), offset=0, nbytes=0)


def test_altup_projections_stack_per_kind_once_all_three_came() -> None:
    merger = ExpertMerger(ALTUP_STACKS, {"altup_num_inputs": 4})
    names = [f"model.altup_projections.{i}.weight" for i in (2, 0)]
    assert [merger.add(n, _ref(n, (8, 8))) for n in names] == [[], []]
    unembed = "model.altup_unembed_projections.0.weight"
    assert merger.add(unembed, _ref(unembed, (8, 8))) == []
    last = "model.altup_projections.1.weight"
    (stacked,) = merger.add(last, _ref(last, (8, 8))) or []
    assert stacked.name == "model.altup_projections.weight"
    assert [p.name for p in stacked.parts] == [f"model.altup_projections.{i}.weight" for i in range(3)]
    assert merger.add("model.layers.0.mlp.up_proj.weight", _ref("x", (8, 8))) is None
    with pytest.raises(ConvertError, match="incomplete"):
        merger.finish()  # the unembedding stack still lacks two


def test_embeddings_padded_to_the_vocabulary_never_trimmed() -> None:
    hp = {"vocab_size": 20}
    (piece,) = rewrite("model.embed_tokens_per_layer.weight", _ref("e", (16, 512)), hp) or []
    assert piece.shape == (20, 512) and piece.pad_rows == 4 and piece.rows is None
    assert rewrite("model.embed_tokens.weight", _ref("e", (20, 8)), hp) is None
    assert rewrite("model.embed_tokens.weight", _ref("e", (24, 8)), hp) is None
    assert rewrite("model.layers.0.mlp.up_proj.weight", _ref("u", (8, 8)), hp) is None


def test_scales_renamed_and_multimodal_embedders_left_out() -> None:
    assert rename("model.layers.3.altup.correct_output_scale", {}) == "model.layers.3.altup.correct_output_scale.weight"
    assert rename("model.embed_vision.embedding.weight", {}) is None
    assert rename("model.embed_audio.hard_embedding_norm.weight", {}) is None
    assert rename("model.layers.0.laurel.linear_left.weight", {}) == "model.layers.0.laurel.linear_left.weight"


def test_only_four_altup_inputs_convert() -> None:
    check({"altup_num_inputs": 4})
    with pytest.raises(ConvertError, match="AltUp"):
        check({"altup_num_inputs": 2})


# torch.distributions.Normal(0, 1).icdf(torch.tensor(p, dtype=torch.float32)).item() for these p
TORCH_QUANTILES = {
    0.95: 1.6448535919189453,
    0.5: 0.0,
}


def test_sparsity_quantiles_as_torch_computes_them_in_float32() -> None:
    for p, expected in TORCH_QUANTILES.items():
        assert sparsity_quantile(p) == expected
    assert sparsity_quantile(0.0) == -math.inf
    torch = pytest.importorskip("torch")
    normal = torch.distributions.normal.Normal(0, 1)
    for p in np.linspace(0.01, 0.99, 99):
        assert sparsity_quantile(float(p)) == normal.icdf(torch.tensor(float(p), dtype=torch.float32)).item()
