"""Tiny random vision checkpoints (test-only): a Gemma 3 text model with a small SigLIP tower, as Google ships it.

Transformers 5 saves the tower under `vision_tower.*`; published checkpoints (and llama.cpp's `--mmproj`
conversion) use `vision_tower.vision_model.*`, so the tensors are renamed after saving (FIELD-NOTES). The
projector conversion also reads preprocessor_config.json (image mean/std, size, tokens per image).

`tiny_gemma3_vision_ggufs(root, sources)` gives the text GGUF and the mmproj GGUF llama.cpp's converter makes of
it (cached by tests/support/reference_convert.py).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.tiny_hf import BASE, SPECS, _load_safetensors, _save_safetensors, _write_tokenizer

# 64×64 pixels in 16-pixel patches (a 4×4 grid), pooled 2×2 into 4 image tokens: small enough to run in
# milliseconds, with every step of the Gemma 3 projector (patches, pooling, soft-embedding norm, projection).
IMAGE_SIZE = 64
PATCH_SIZE = 16
TOKENS_PER_IMAGE = 4
VISION = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": IMAGE_SIZE,
    "patch_size": PATCH_SIZE,
    "vision_use_head": False,
}


@dataclass(frozen=True, slots=True)
class VisionGGUFs:
    text: Path
    mmproj: Path
    checkpoint: Path


def make_tiny_gemma3_vision(folder: Path, *, seed: int = 0, sizes: dict[str, Any] | None = None,
                            vision: dict[str, Any] | None = None, tokens_per_image: int = TOKENS_PER_IMAGE) -> Path:
    """Gemma3ForConditionalGeneration with random weights, a real SentencePiece tokenizer and a preprocessor
    config. `sizes` overrides text dimensions (a second checkpoint with another hidden size makes a projector
    that does not match), `vision` the tower's (its image_size and patch_size among them)."""
    tower = {**VISION, **(vision or {})}
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    special = _write_tokenizer(folder, "gemma-spm")
    text = {**BASE, **SPECS["gemma3"].config, **(sizes or {}), "vocab_size": special["vocab"]}
    text.update(bos_token_id=special["bos"], eos_token_id=special["eos"], pad_token_id=0)
    config = transformers.Gemma3Config(
        text_config=text,
        vision_config=tower,
        mm_tokens_per_image=tokens_per_image,
        # ids beyond the tiny vocabulary are never looked up: llama.cpp's mtmd writes the image's markers as text
        boi_token_index=special["vocab"] - 2,
        eoi_token_index=special["vocab"] - 1,
        image_token_index=special["vocab"] - 3,
    )
    torch.manual_seed(seed)
    model = transformers.Gemma3ForConditionalGeneration(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight") and "vision" not in name:
                param.copy_(0.1 * torch.randn_like(param))  # Gemma norms scale by (1 + w)
            elif "norm" in name and name.endswith("weight"):
                param.copy_(1.0 + 0.1 * torch.randn_like(param))  # SigLIP's LayerNorms scale by w
            else:
                param.copy_(0.08 * torch.randn_like(param))
    model.save_pretrained(folder, safe_serialization=True)
    _published_names(folder / "model.safetensors")
    preprocessor = {
        "image_processor_type": "Gemma3ImageProcessor",
        "do_normalize": True,
        "do_resize": True,
        "do_rescale": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "size": {"height": tower["image_size"], "width": tower["image_size"]},
        "image_seq_length": tokens_per_image,
        "resample": 2,
        "rescale_factor": 1 / 255,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=1), encoding="utf-8")
    return folder


def _published_names(path: Path) -> None:
    tensors = _load_safetensors(path)
    renamed = {}
    for name, value in tensors.items():
        if name.startswith("vision_tower.") and not name.startswith("vision_tower.vision_model."):
            name = "vision_tower.vision_model." + name.removeprefix("vision_tower.")
        renamed[name] = value
    _save_safetensors(path, renamed)


def tiny_gemma3_vision_ggufs(root: Path, sources: Path, *, seed: int = 0,
                             sizes: dict[str, Any] | None = None) -> VisionGGUFs:
    """The checkpoint (in root/hf) and llama.cpp's conversion of it: text model F32, projector F16."""
    from tests.support.reference_convert import ReferenceJob, reference_outputs

    folder = make_tiny_gemma3_vision(root / "hf", seed=seed, sizes=sizes)
    text, mmproj = reference_outputs(
        [ReferenceJob(folder, "f32", None), ReferenceJob(folder, "f16", None, ("--mmproj",))], sources
    )
    if text.path is None or mmproj.path is None:
        raise RuntimeError(f"llama.cpp's converter failed: {text.error or mmproj.error}")
    return VisionGGUFs(text.path, mmproj.path, folder)


def image_bytes(width: int = 100, height: int = 80, color: tuple[int, int, int] = (200, 30, 40),
                fmt: str = "PNG") -> bytes:
    """A one-colour image file of the given size and format."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, fmt)
    return out.getvalue()


def vision_library(root: Path, sources: Path) -> VisionGGUFs:
    """The converted model and its projector side by side, as a library folder holds a downloaded repo:
    root/tester/tiny-gemma3-vision-GGUF/{tiny-gemma3-vision-F32.gguf, mmproj-tiny-gemma3-vision-F16.gguf}."""
    import shutil

    made = tiny_gemma3_vision_ggufs(root / "source", sources)
    folder = root / "library" / "tester" / "tiny-gemma3-vision-GGUF"
    folder.mkdir(parents=True, exist_ok=True)
    text, mmproj = folder / "tiny-gemma3-vision-F32.gguf", folder / "mmproj-tiny-gemma3-vision-F16.gguf"
    shutil.copyfile(made.text, text)
    shutil.copyfile(made.mmproj, mmproj)
    return VisionGGUFs(text, mmproj, made.checkpoint)


# Qwen2.5-VL's image preprocessing (CLIP's mean and std), as its repositories ship it
QWEN_PREPROCESSOR = {
    "image_processor_type": "Qwen2VLImageProcessor",
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "merge_size": 2,
    "temporal_patch_size": 2,
}


def make_tiny_qwen25_vl(folder: Path, *, seed: int = 0) -> Path:
    """Qwen2_5_VLForConditionalGeneration: M-RoPE text model, a 4-block window-attention tower (llama.cpp's map
    names merger layers up to the block count, so the tower needs more blocks than the merger's 3 layers)."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    special = _write_tokenizer(folder, "qwen2-bpe")
    text = {**BASE, "vocab_size": special["vocab"], "eos_token_id": special["eos"], "bos_token_id": None,
            "head_dim": 64, "rope_scaling": {"type": "mrope", "mrope_section": [8, 12, 12]}}
    vision = {"depth": 4, "hidden_size": 64, "intermediate_size": 128, "num_heads": 2, "out_hidden_size": 256,
              "fullatt_block_indexes": [1, 3], "window_size": 56, "patch_size": 14, "spatial_merge_size": 2,
              "temporal_patch_size": 2}
    config = transformers.AutoConfig.for_model("qwen2_5_vl", text_config=text, vision_config=vision)
    torch.manual_seed(seed)
    model = transformers.Qwen2_5_VLForConditionalGeneration(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_((1.0 if "norm" in name and name.endswith("weight") else 0.0) + 0.08 * torch.randn_like(param))
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps(QWEN_PREPROCESSOR, indent=1), encoding="utf-8")
    return folder


def tiny_qwen25_vl_ggufs(root: Path, sources: Path) -> VisionGGUFs:
    """The checkpoint and llama.cpp's conversion of it: text model F32, projector F16."""
    from tests.support.reference_convert import ReferenceJob, reference_outputs
    from tests.support.tiny_hf import BPE_PRE_TOKENIZERS

    folder = make_tiny_qwen25_vl(root / "qwen25-vl")
    text, mmproj = reference_outputs(
        [ReferenceJob(folder, "f32", BPE_PRE_TOKENIZERS["qwen2-bpe"]),
         ReferenceJob(folder, "f16", None, ("--mmproj",))],
        sources,
    )
    if text.path is None or mmproj.path is None:
        raise RuntimeError(f"llama.cpp's converter failed: {text.error or mmproj.error}")
    return VisionGGUFs(text.path, mmproj.path, folder)


def make_tiny_qwen2_vl(folder: Path, *, seed: int = 0) -> Path:
    """Qwen2VLForConditionalGeneration: its tower names the width embed_dim and the FFN width hidden_size."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    special = _write_tokenizer(folder, "qwen2-bpe")
    text = {**BASE, "vocab_size": special["vocab"], "eos_token_id": special["eos"], "bos_token_id": None,
            "head_dim": 64, "rope_scaling": {"type": "mrope", "mrope_section": [8, 12, 12]}}
    vision = {"depth": 4, "embed_dim": 64, "hidden_size": 256, "num_heads": 2, "mlp_ratio": 2,
              "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2}
    config = transformers.AutoConfig.for_model("qwen2_vl", text_config=text, vision_config=vision)
    torch.manual_seed(seed)
    model = transformers.Qwen2VLForConditionalGeneration(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_((1.0 if "norm" in name and name.endswith("weight") else 0.0) + 0.08 * torch.randn_like(param))
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps(QWEN_PREPROCESSOR, indent=1), encoding="utf-8")
    return folder


def make_tiny_qwen3_vl(folder: Path, *, seed: int = 0) -> Path:
    """Qwen3VLForConditionalGeneration: a 4-block tower with a learned position table and two DeepStack mergers
    (saved by Transformers 5 under model.visual.*)."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    special = _write_tokenizer(folder, "qwen2-bpe")
    text = {**BASE, "vocab_size": special["vocab"], "eos_token_id": special["eos"], "bos_token_id": None,
            "head_dim": 64,
            "rope_scaling": {"rope_type": "default", "mrope_section": [8, 12, 12], "mrope_interleaved": True}}
    vision = {"depth": 4, "hidden_size": 64, "intermediate_size": 128, "num_heads": 2, "out_hidden_size": 256,
              "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2, "num_position_embeddings": 64,
              "deepstack_visual_indexes": [1, 2]}
    config = transformers.AutoConfig.for_model("qwen3_vl", text_config=text, vision_config=vision)
    torch.manual_seed(seed)
    model = transformers.Qwen3VLForConditionalGeneration(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_((1.0 if "norm" in name and name.endswith("weight") else 0.0) + 0.08 * torch.randn_like(param))
    model.save_pretrained(folder, safe_serialization=True)
    preprocessor = {**QWEN_PREPROCESSOR, "patch_size": 16, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=1), encoding="utf-8")
    return folder


def write_projector_header(path: Path, embedding_size: int, *, file_type: int = 1, audio: bool = False) -> Path:
    """A header-only projector (no tensors) for `embedding_size`-wide models: enough for pairing and listing,
    which read headers only; llama.cpp cannot load it. `audio`: an audio-only projector (Qwen2-Audio's kind)."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch="clip")
    writer.add_type(gguf.GGUFType.MMPROJ)
    writer.add_file_type(file_type)
    if audio:
        writer.add_clip_has_audio_encoder(True)
        writer.add_audio_projection_dim(embedding_size)
        writer.add_clip_projector_type(gguf.VisionProjectorType.QWEN2A)
    else:
        writer.add_clip_has_vision_encoder(True)
        writer.add_vision_projection_dim(embedding_size)
        writer.add_clip_projector_type(gguf.VisionProjectorType.GEMMA3)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# Qwen2-Audio: a Whisper encoder (llama.cpp's "qwen2a" projector) before a Qwen2 text model
AUDIO_PREPROCESSOR = {"feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 128,
                      "sampling_rate": 16000, "n_fft": 400, "hop_length": 160, "chunk_length": 30}


def make_tiny_qwen2_audio(folder: Path, *, seed: int = 0, audio: dict[str, Any] | None = None) -> Path:
    """Qwen2AudioForConditionalGeneration with random weights. llama.cpp's map names the encoder's convolutions
    `conv{N}` only for N below the block count, so the encoder needs 3 layers for conv1 and conv2."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    special = _write_tokenizer(folder, "qwen2-bpe")
    text = {**BASE, "vocab_size": special["vocab"], "eos_token_id": special["eos"], "bos_token_id": None}
    audio = {"d_model": 64, "encoder_layers": 3, "encoder_attention_heads": 2, "encoder_ffn_dim": 128,
             "num_mel_bins": 128, "max_source_positions": 1500, **(audio or {})}
    config = transformers.Qwen2AudioConfig(text_config=text, audio_config=audio,
                                           audio_token_index=special["vocab"] - 1)
    torch.manual_seed(seed)
    model = transformers.Qwen2AudioForConditionalGeneration(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_((1.0 if "norm" in name and name.endswith("weight") else 0.0) + 0.08 * torch.randn_like(param))
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps(AUDIO_PREPROCESSOR, indent=1), encoding="utf-8")
    return folder


def audio_library(root: Path, sources: Path) -> VisionGGUFs:
    """llama.cpp's conversion of a tiny Qwen2-Audio (text F32, projector F16), side by side in a library folder:
    root/library/tester/tiny-qwen2-audio-GGUF/{tiny-qwen2-audio-F32.gguf, mmproj-tiny-qwen2-audio-F16.gguf}."""
    import shutil

    from tests.support.reference_convert import ReferenceJob, reference_outputs
    from tests.support.tiny_hf import BPE_PRE_TOKENIZERS

    folder = make_tiny_qwen2_audio(root / "source" / "qwen2-audio")
    text, mmproj = reference_outputs(
        [ReferenceJob(folder, "f32", BPE_PRE_TOKENIZERS["qwen2-bpe"]),
         ReferenceJob(folder, "f16", None, ("--mmproj",))],
        sources,
    )
    if text.path is None or mmproj.path is None:
        raise RuntimeError(f"llama.cpp's converter failed: {text.error or mmproj.error}")
    library = root / "library" / "tester" / "tiny-qwen2-audio-GGUF"
    library.mkdir(parents=True, exist_ok=True)
    pair = library / "tiny-qwen2-audio-F32.gguf", library / "mmproj-tiny-qwen2-audio-F16.gguf"
    shutil.copyfile(text.path, pair[0])
    shutil.copyfile(mmproj.path, pair[1])
    return VisionGGUFs(pair[0], pair[1], folder)


def wav_bytes(seconds: float = 1.0, rate: int = 16_000, hz: float = 440.0) -> bytes:
    """A mono 16-bit WAV file of a sine tone."""
    import wave

    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


# Gemma 4's vision tower: 4-pixel patches pooled 2×2, a learned 2-D position table, RMS norms around attention
# and FFN, per-head Q/K norms, gated FFN.
GEMMA4_VISION = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "patch_size": 4,
    "pooling_kernel_size": 2,
    "position_embedding_size": 64,
}
# and its audio tower: a conformer over 128 mel bins, two subsampling convolutions, clipped linears.
GEMMA4_AUDIO = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    # Transformers sizes the input projection as if the first channel count were the 128 mel bins, as in the
    # published model, and llama.cpp's graph flattens what the convolutions really give: keep them equal
    "subsampling_conv_channels": [128, 4],
    "conv_kernel_size": 5,
}


def make_tiny_gemma4_vision(folder: Path, text_folder: Path, *, seed: int = 0, audio: bool = False,
                            vision: dict[str, Any] | None = None, audio_sizes: dict[str, Any] | None = None) -> Path:
    """Gemma4ForConditionalGeneration with random weights: the tiny "gemma4" text model (built into
    text_folder) and a real, small vision tower (with `audio`, an audio tower too), with a preprocessor config.
    `vision` and `audio_sizes` override the towers' shapes."""
    import torch
    import transformers

    from tests.support.tiny_hf import make_tiny_hf

    make_tiny_hf(text_folder, "gemma4")
    text = json.loads((text_folder / "config.json").read_text(encoding="utf-8"))
    text.pop("architectures", None)
    tower = {**GEMMA4_VISION, **(vision or {})}
    config = transformers.Gemma4Config(text_config=text, vision_config=tower,
                                       audio_config={**GEMMA4_AUDIO, **(audio_sizes or {})} if audio else None)
    torch.manual_seed(seed)
    model = transformers.Gemma4ForConditionalGeneration(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            scale = 1.0 if name.endswith("norm.weight") else 0.0  # Gemma 4's norms scale by w
            param.copy_(scale + 0.08 * torch.randn_like(param))
    model.save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((text_folder / name).read_bytes())
    preprocessor = {"image_processor_type": "Gemma4ImageProcessor", "image_mean": [0.0, 0.0, 0.0],
                    "image_std": [1.0, 1.0, 1.0], "patch_size": tower["patch_size"]}
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=1), encoding="utf-8")
    return folder
