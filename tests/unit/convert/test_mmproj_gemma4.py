"""Gemma 4's projector family in its own module (app.convert.mmproj_gemma4): the names, shapes and value moves
that the byte-for-byte comparison with llama.cpp's converter (tests/integration/vision/test_vision_convert.py)
covers as a whole, here one rule at a time and without a checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as QT

from app.convert.mmproj import FAMILIES
from app.convert.mmproj_gemma4 import GEMMA4, _fold_patches, _softplus, gemma4_gguf_forced
from app.convert.safetensors_file import TensorRef


def ref(name: str, shape: tuple[int, ...]) -> TensorRef:
    return TensorRef(name, "F32", shape, Path("model.safetensors"), 0, 4 * math.prod(shape))


def test_the_family_is_listed_under_its_architecture() -> None:
    assert FAMILIES["Gemma4ForConditionalGeneration"] is GEMMA4
    assert GEMMA4.projector_type == "gemma4v" and GEMMA4.audio
    assert GEMMA4.vision_params({"image_size": 896, "patch_size": 16}) == {"image_size": 224, "patch_size": 16}


def test_only_the_towers_and_their_embedders_are_kept() -> None:
    kept = (
        "model.vision_tower.encoder.layers.0.mlp.down_proj.linear.weight",
        "model.embed_vision.embedding_projection.weight",
        "model.audio_tower.layers.0.lconv1d.depthwise_conv1d.weight",
        "model.embed_audio.embedding_projection.weight",
    )
    assert all(GEMMA4.keep(name) for name in kept)
    assert not GEMMA4.keep("model.language_model.layers.0.mlp.down_proj.weight")


def test_fixed_types() -> None:
    assert GEMMA4.forced_type("model.audio_tower.subsample_conv_projection.conv_0.conv.weight", "", QT.Q8_0) == QT.F32
    assert GEMMA4.forced_type("model.audio_tower.layers.0.lconv1d.depthwise_conv1d.weight", "", QT.F16) == QT.F32
    assert GEMMA4.forced_type("model.vision_tower.patch_embedder.position_embedding_table", "", QT.F16) == QT.F32
    assert GEMMA4.forced_type("model.vision_tower.encoder.layers.0.mlp.up_proj.linear.weight", "", QT.Q8_0) is None


def test_the_same_fixed_types_by_gguf_name_for_a_retype() -> None:
    """A projector GGUF re-typed (Quantize's Q8_0 beside a GGUF) has only GGUF names: the same tensors stay F32."""
    pairs = (
        ("model.audio_tower.subsample_conv_projection.layer0.conv.weight", "a.conv1d.0.weight"),
        ("model.audio_tower.subsample_conv_projection.input_proj_linear.weight", "a.input_projection.weight"),
        ("model.audio_tower.layers.0.lconv1d.depthwise_conv1d.weight", "a.blk.0.conv_dw.weight"),
        ("model.vision_tower.patch_embedder.position_embedding_table", "v.position_embd.weight"),
        ("model.audio_tower.layers.0.lconv1d.linear_start.linear.weight", "a.blk.0.conv_pw1.weight"),
        ("model.embed_audio.embedding_projection.weight", "mm.a.input_projection.weight"),
        ("model.embed_vision.embedding_projection.weight", "mm.input_projection.weight"),
    )
    for name, gguf_name in pairs:
        assert gemma4_gguf_forced("", gguf_name, QT.Q8_0) == GEMMA4.forced_type(name, "", QT.Q8_0), gguf_name


def test_vision_names_shapes_and_the_folded_patch_kernel() -> None:
    (part,) = GEMMA4.split("model.vision_tower.encoder.layers.3.self_attn.q_proj.linear.weight", ref("", (8, 8)), {})
    assert part.name == "vision_model.model.layers.3.self_attn.q_proj.weight"
    assert part.shape == (8, 8) and part.transform is None
    (scalar,) = GEMMA4.split("model.vision_tower.encoder.layers.3.layer_scalar", ref("", ()), {})
    assert scalar.name.endswith("layer_scalar.weight") and scalar.shape == (1,)
    assert scalar.transform is not None and scalar.transform(np.float32(2.5)).tolist() == [2.5]
    (patch,) = GEMMA4.split("model.vision_tower.patch_embedder.input_proj.weight", ref("", (5, 3 * 4 * 4)), {})
    assert patch.shape == (5, 3, 4, 4)
    kernel = np.arange(5 * 48, dtype=np.float32).reshape(5, 48)
    folded = _fold_patches(kernel)
    for i, c, y, x in ((0, 0, 0, 0), (4, 2, 3, 1), (2, 1, 0, 3)):
        assert folded[i, c, y, x] == kernel[i, (y * 4 + x) * 3 + c]  # the channels were the fastest axis


def test_audio_names_shapes_and_softplus() -> None:
    (scale,) = GEMMA4.split("model.audio_tower.layers.0.attention.attn.per_dim_scale", ref("", (4,)), {})
    assert scale.name == "conformer.layers.0.attention.attn.per_dim_scale.weight" and scale.transform is _softplus
    (conv,) = GEMMA4.split("model.audio_tower.layers.0.lconv1d.depthwise_conv1d.weight", ref("", (6, 1, 5)), {})
    assert conv.shape == (6, 5) and conv.transform is not None
    assert conv.transform(np.zeros((6, 1, 5), np.float32)).shape == (6, 5)
    (bound,) = GEMMA4.split("model.audio_tower.layers.0.feed_forward1.ffw_layer_1.input_max", ref("", ()), {})
    assert bound.name == "conformer.layers.0.feed_forward1.ffw_layer_1.input_max" and bound.shape == (1,)
    x = np.array([-100.0, -1.0, 0.0, 0.5, 30.0, 100.0], dtype=np.float32)
    exact = [math.log1p(math.exp(v)) if v < 30 else v + math.log1p(math.exp(-v)) for v in x.tolist()]
    assert _softplus(x).tolist() == np.array(exact, dtype=np.float32).tolist()  # correctly rounded to f32
