"""Gemma 4's projector family: the vision tower and the audio tower (a conformer) in one mmproj GGUF, as llama.cpp's
`convert_hf_to_gguf.py --mmproj` writes them (projector types gemma4v and gemma4a)."""

from __future__ import annotations

from typing import Any

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

from app.convert.mmproj_family import Part, VisionFamily
from app.convert.safetensors_file import TensorRef
from app.core.errors import ConvertError


def _gemma4_keep(name: str) -> bool:
    return name.startswith(("model.vision_tower.", "model.embed_vision.", "model.audio_tower.", "model.embed_audio."))


def _gemma4_forced(name: str, _gguf_name: str, _out: QT) -> QT | None:
    audio = "audio_tower" in name or "embed_audio" in name
    if audio and (".conv" in name or ("_conv" in name and ".weight" in name)):  # the audio tower's convolutions
        return QT.F32
    return QT.F32 if "position_embedding_table" in name else None


def gemma4_gguf_forced(_name: str, gguf_name: str, _out: QT) -> QT | None:
    """The same rule by GGUF name (a projector GGUF re-typed has no checkpoint names): the audio tower's
    convolutions (`a.conv1d.*`, the depthwise `conv_dw`) and its subsampler's input projection, the only
    `_conv` tensor that is a matrix, stay F32, as does the vision position table."""
    if gguf_name.startswith(("a.conv1d.", "a.input_projection.")) or ".conv_dw." in gguf_name:
        return QT.F32
    return QT.F32 if gguf_name.startswith("v.position_embd") else None


def _softplus(values: np.ndarray) -> np.ndarray:
    """The audio attention's per-dimension scales are stored before their softplus. Correctly rounded to f32 (in
    f64); torch's vectorised f32 exp/log1p, which the reference uses, may differ in the last bit."""
    x = values.astype(np.float64)
    return (np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))).astype(np.float32)


def _gemma4_audio_split(name: str, ref: TensorRef) -> list[Part]:
    """The conformer's names as llama.cpp's tensor map knows them, scalars as one-value tensors."""
    name = name.replace("model.audio_tower.", "conformer.").replace(".linear.", ".")
    if name.endswith(("per_dim_key_scale", "per_dim_scale")):
        return [Part(name + ".weight", ref.shape, transform=_softplus)]
    if "lconv1d.depthwise_conv1d" in name and name.endswith(".weight"):  # (channels, 1, kernel)
        shape = (ref.shape[0], ref.shape[2])
        return [Part(name, shape, transform=lambda kernel: kernel.reshape(shape))]
    return [_scalar_as_vector(name, ref)]


def _scalar_as_vector(name: str, ref: TensorRef) -> Part:
    if ref.shape:
        return Part(name, ref.shape)
    return Part(name, (1,), transform=lambda value: value.reshape(1))  # the clipped linears' bounds


def _fold_patches(kernel: np.ndarray) -> np.ndarray:
    """(n, p·p·3) with the channels last → (n, 3, p, p), as a convolution kernel."""
    n, flat = kernel.shape
    p = int((flat // 3) ** 0.5)
    return kernel.reshape(n, p, p, 3).transpose(0, 3, 1, 2)


def _gemma4_split(name: str, ref: TensorRef, _vision: dict[str, Any]) -> list[Part]:
    """The names llama.cpp's tensor map knows: the encoder as vision_model.model, no `.linear` level."""
    if "audio_tower" in name or "embed_audio" in name:
        return _gemma4_audio_split(name, ref)
    name = name.replace("model.vision_tower.encoder.", "vision_model.model.").replace(".linear.weight", ".weight")
    if name.endswith(("layer_scalar", "position_embedding_table")):
        name += ".weight"
    if name.endswith("patch_embedder.input_proj.weight"):
        n, flat = ref.shape
        p = int((flat // 3) ** 0.5)
        return [Part(name, (n, 3, p, p), transform=_fold_patches)]
    return [_scalar_as_vector(name, ref)]


def _gemma4_params(writer: gguf.GGUFWriter, vision: dict[str, Any], _pre: dict[str, Any], config: Any) -> None:
    audio = config.get("audio_config") or {}
    if audio:  # the audio tower's shape, where the reference writes it: right after the vision tower's
        if "hidden_size" not in audio:
            raise ConvertError("config.json's audio_config names no hidden_size, which the projector needs")
        text = {**config, **config.get("text_config", {})}
        writer.add_clip_has_audio_encoder(True)
        writer.add_audio_projection_dim(int(text.get("hidden_size", text.get("n_embd", 0))))
        writer.add_audio_embedding_length(audio["hidden_size"])
        writer.add_audio_feed_forward_length(audio["hidden_size"] * 4)
        writer.add_audio_block_count(audio["num_hidden_layers"])
        writer.add_audio_head_count(audio["num_attention_heads"])
    writer.add_clip_vision_projector_type(gguf.VisionProjectorType.GEMMA4V)
    writer.add_vision_attention_layernorm_eps(vision.get("layer_norm_eps", 1e-6))
    if audio:
        writer.add_clip_audio_projector_type(gguf.VisionProjectorType.GEMMA4A)
        writer.add_audio_num_mel_bins(audio.get("input_feat_size", 128))
        writer.add_audio_attention_layernorm_eps(audio.get("layer_norm_eps", 1e-6))


# the image size is not used by llama.cpp's Gemma 4 tower (it takes any size); the reference writes 224
GEMMA4 = VisionFamily(
    "gemma4v", _gemma4_keep, _gemma4_forced, lambda _name: 0.0, _gemma4_params,
    lambda vision: {**vision, "image_size": 224}, _gemma4_split, audio=True,
)

__all__ = ["GEMMA4", "gemma4_gguf_forced"]
