"""What a projector family is made of (app.convert.mmproj and one module per family that needs more room, such as
app.convert.mmproj_gemma4): the GGUF tensors a checkpoint tensor becomes, and what differs between towers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

from app.convert.safetensors_file import TensorRef


@dataclass(frozen=True, slots=True)
class Part:
    """One GGUF tensor made from a checkpoint tensor that llama.cpp takes apart (fused QKV, a 3-D patch kernel)."""

    name: str  # a checkpoint-style name the tensor map knows, or the GGUF name itself (gguf_name)
    shape: tuple[int, ...]
    rows: np.ndarray | None = None  # rows of the source (flattened over its last axis), in order
    transform: Callable[[np.ndarray], np.ndarray] | None = None  # values moved (Gemma 4's audio scales: softplus)
    gguf_name: bool = False


@dataclass(frozen=True, slots=True)
class VisionFamily:
    """What differs between vision towers: how tensors are chosen, changed and typed, and the metadata."""

    projector_type: str
    keep: Callable[[str], bool]  # Hugging Face tensor names of the tower and projector
    forced_type: Callable[[str, str, QT], QT | None]  # (checkpoint name, GGUF name, output type) -> a type
    # whatever the output type, or None: the usual rules
    shift: Callable[[str], float]  # added to every value (Gemma's RMS norm weights are stored minus one)
    write_params: Callable[[gguf.GGUFWriter, dict[str, Any], dict[str, Any], dict[str, Any]], None]
    # (writer, vision hparams, preprocessor config, the whole config.json)
    vision_params: Callable[[dict[str, Any]], dict[str, Any]]  # config.json's vision_config, completed
    # (checkpoint name, tensor, vision hparams) -> the GGUF tensors it becomes; None: one, as it is
    split: Callable[[str, TensorRef, dict[str, Any]], list[Part] | None] = lambda _name, _ref, _vision: None
    audio: bool = False  # also converts the audio tower a config.json may describe (audio_config)


__all__ = ["Part", "VisionFamily"]
