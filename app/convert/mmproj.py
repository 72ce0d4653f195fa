"""A multimodal projector (mmproj GGUF) from a Hugging Face vision-language checkpoint: the vision tower (and
Gemma 4's audio tower) and its projection into the text model's embeddings, as llama.cpp's
`convert_hf_to_gguf.py --mmproj` writes it.

Only the tensors of the tower and projector are read; the text model is converted apart (app.convert.converter).
Which tensors stay F32 or F16 whatever the output type follows the reference converter's rules for the family.
The families are listed here; Gemma 4's (vision and audio) lives in app.convert.mmproj_gemma4.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from gguf import GGMLQuantizationType as QT

from app.convert import kernels
from app.convert.checkpoint import Checkpoint, open_checkpoint, read_json_if_exists
from app.convert.converter import CancelFn, ConvertResult, ProgressFn, new_writer, write_file
from app.convert.mmproj_family import Part, VisionFamily
from app.convert.mmproj_gemma4 import GEMMA4, gemma4_gguf_forced
from app.convert.pieces import split_rows
from app.convert.plan import FILE_TYPES, OUT_TYPES, TensorPlan
from app.convert.safetensors_file import TensorRef
from app.core.errors import ConvertError

# SigLIP's defaults (transformers' SiglipVisionConfig): a config.json may leave any of them out.
_SIGLIP = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
           "image_size": 224, "patch_size": 16, "layer_norm_eps": 1e-6}
_SUFFIXES = (".weight", ".bias", ".input_max", ".input_min", ".output_max", ".output_min")  # the last: clipped linears
_TOWER_PREFIXES = ("multi_modal_projector.", "vision_tower.", "multimodal_projector.", "vision_model.")


def _gemma3_keep(name: str) -> bool:
    return name.startswith(_TOWER_PREFIXES) and "vision_model.head." not in name


def _gemma3_forced(name: str, _gguf_name: str, _out: QT) -> QT | None:
    if "input_projection" in name:
        return QT.F16
    if ".embeddings." in name:
        return QT.F32
    return None


def _gemma3_params(writer: gguf.GGUFWriter, vision: dict[str, Any], pre: dict[str, Any], _config: Any) -> None:
    writer.add_clip_projector_type(gguf.VisionProjectorType.GEMMA3)
    writer.add_vision_attention_layernorm_eps(vision.get("layer_norm_eps", 1e-6))
    writer.add_vision_use_gelu(True)
    per_side = int(pre.get("image_seq_length", 256) ** 0.5)
    scale = (vision["image_size"] // vision["patch_size"]) // per_side
    if scale > 0 and scale != 4:  # llama.cpp assumes 4 (Gemma 3's 896-pixel, 14-pixel-patch tower)
        writer.add_vision_projector_scale_factor(scale)


def _qwen_vision(vision: dict[str, Any]) -> dict[str, Any]:
    out = {"image_size": 560, **vision, "num_attention_heads": vision.get("num_heads"),
           "num_hidden_layers": vision.get("depth")}
    if "embed_dim" in vision:  # Qwen2-VL names its width embed_dim and its FFN hidden_size
        out["intermediate_size"], out["hidden_size"] = vision.get("hidden_size"), vision["embed_dim"]
    return out


def _qwen_forced(_name: str, gguf_name: str, _out: QT) -> QT | None:
    return QT.F32 if ".position_embd." in gguf_name else None


def _frame(t: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda kernel: kernel[:, :, t]


def _qwen_split(name: str, ref: TensorRef, _vision: dict[str, Any] | None = None) -> list[Part] | None:
    if ".qkv." in name:  # one fused projection: llama.cpp names q, k and v apart
        n = ref.shape[0] // 3
        if len(ref.shape) == 1:
            return [Part(name.replace("qkv", kind), (n,), np.arange(i * n, (i + 1) * n)) for i, kind in
                    enumerate("qkv")]
        return [Part(name.replace("qkv", kind), shape, rows) for kind, (rows, shape) in
                zip("qkv", split_rows(ref, [n, n, n]), strict=True)]
    if "patch_embed.proj.weight" in name:  # a Conv3D over two frames: two Conv2D kernels
        c_out, c_in, frames, kh, kw = ref.shape
        if frames != 2:
            raise ConvertError(f"{name} spans {frames} frames; llama.cpp's Qwen-VL projector takes 2")
        base = gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.V_ENC_EMBD_PATCH] + ".weight"
        return [Part(base + suffix, (c_out, c_in, kh, kw), transform=_frame(t), gguf_name=True)
                for t, suffix in ((0, ""), (1, ".1"))]
    return None


def _qwen_params(writer: gguf.GGUFWriter, vision: dict[str, Any], _pre: dict[str, Any], config: Any) -> None:
    if config.get("model_type") == "qwen2_vl":
        writer.add_clip_projector_type(gguf.VisionProjectorType.QWEN2VL)
    else:
        writer.add_clip_projector_type(gguf.VisionProjectorType.QWEN25VL)
        writer.add_vision_use_silu(True)
        full = vision.get("fullatt_block_indexes")
        if not full:
            raise ConvertError("config.json's vision_config lacks fullatt_block_indexes, which Qwen2.5-VL needs")
        pattern = full[0] + 1
        if any(b - a != pattern for a, b in itertools.pairwise(full)):
            raise ConvertError(f"fullatt_block_indexes {full} is not a regular window-attention pattern")
        writer.add_vision_n_wa_pattern(pattern)
    writer.add_vision_attention_layernorm_eps(config.get("rms_norm_eps", 1e-6))


_QWEN = VisionFamily("qwen2vl", lambda name: name.startswith("visual."), _qwen_forced, lambda _name: 0.0,
                     _qwen_params, _qwen_vision, _qwen_split)

def _qwen3_vision(vision: dict[str, Any]) -> dict[str, Any]:
    out = {**vision, "num_attention_heads": vision.get("num_heads"), "num_hidden_layers": vision.get("depth")}
    if "image_size" not in out:  # the position table is a square grid of patches
        out["image_size"] = int(vision.get("num_position_embeddings", 2304) ** 0.5 * vision.get("patch_size", 16))
    return out


def _qwen3_keep(name: str) -> bool:
    return name.startswith(("visual.", "model.visual."))


def _qwen3_split(name: str, ref: TensorRef, vision: dict[str, Any]) -> list[Part]:
    name = name.replace("model.visual.", "visual.", 1)
    stem, _, suffix = name.rpartition(".")
    parts = stem.split(".")
    if parts[1] == "deepstack_merger_list":  # visual.deepstack_merger_list.<i>.<norm|linear_fc1|linear_fc2>
        layer = vision.get("deepstack_visual_indexes", [])[int(parts[2])]
        kind = {"norm": "norm", "linear_fc1": "fc1", "linear_fc2": "fc2"}[parts[3]]
        return [Part(f"v.deepstack.{layer}.{kind}.{suffix}", ref.shape, gguf_name=True)]
    if parts[1] == "merger":  # the final merger: its two layers as Qwen2-VL's mm.0 / mm.2, its norm as post_ln
        target = {"linear_fc1": "mm.0", "linear_fc2": "mm.2", "norm": "v.post_ln"}[parts[2]]
        return [Part(f"{target}.{suffix}", ref.shape, gguf_name=True)]
    if stem == "visual.patch_embed.proj" and suffix == "bias":
        return [Part("v.patch_embd.bias", ref.shape, gguf_name=True)]
    if stem == "visual.patch_embed.proj":
        return _qwen_split(name, ref) or []
    return [Part(name, ref.shape)]


def _qwen3_params(writer: gguf.GGUFWriter, vision: dict[str, Any], _pre: dict[str, Any], config: Any) -> None:
    writer.add_clip_projector_type(gguf.VisionProjectorType.QWEN3VL)
    writer.add_vision_use_gelu(True)
    if vision.get("spatial_merge_size") is not None:
        writer.add_vision_spatial_merge_size(int(vision["spatial_merge_size"]))
    writer.add_vision_attention_layernorm_eps(config.get("text_config", {}).get("rms_norm_eps", 1e-6))
    depth = int(vision.get("num_hidden_layers") or 0)
    if depth:
        deep = set(vision.get("deepstack_visual_indexes", []))
        writer.add_vision_is_deepstack_layers([i in deep for i in range(depth)])


FAMILIES: dict[str, VisionFamily] = {
    "Gemma3ForConditionalGeneration": VisionFamily(
        "gemma3", _gemma3_keep, _gemma3_forced,
        lambda name: 1.0 if "soft_emb_norm.weight" in name else 0.0, _gemma3_params,
        lambda vision: {**_SIGLIP, **vision},
    ),
    "Qwen2VLForConditionalGeneration": _QWEN,
    "Qwen2_5_VLForConditionalGeneration": _QWEN,
    "Qwen3VLForConditionalGeneration": VisionFamily(
        "qwen3vl", _qwen3_keep, lambda _name, _gguf_name, _out: None, lambda _name: 0.0, _qwen3_params,
        _qwen3_vision, _qwen3_split,
    ),
    "Gemma4ForConditionalGeneration": GEMMA4,
}


def vision_family(ckpt: Checkpoint) -> VisionFamily:
    family = FAMILIES.get(ckpt.architecture)
    if family is None:
        known = ", ".join(sorted(FAMILIES))
        raise ConvertError(f"{ckpt.architecture} has no vision projector we can convert",
                           hint=f"projectors are made for {known}")
    if ckpt.config.get("audio_config") and not family.audio:  # llama.cpp's converter writes both towers
        raise ConvertError(f"this {ckpt.architecture} checkpoint has an audio tower, which we cannot convert yet",
                           hint="convert its projector with llama.cpp's convert_hf_to_gguf.py --mmproj")
    return family


def default_output(folder: Path, outtype: str) -> Path:
    return folder / f"mmproj-{folder.name}-{outtype.upper()}.gguf"


def _preprocessor(folder: Path) -> dict[str, Any]:
    config = read_json_if_exists(folder / "preprocessor_config.json")
    config = {**config, **config.get("media_proc_cfg", {})}
    processor = read_json_if_exists(folder / "processor_config.json")
    if processor:
        config = {**config, **processor, **processor.get("image_processor", {})}
    return config


def _tensor_type(gname: str, hf_name: str, shape: tuple[int, ...], family: VisionFamily, out: QT) -> QT:
    qtype = family.forced_type(hf_name, gname, out)
    if qtype is None and ".patch_embd.weight" in gname:
        qtype = QT.F16 if out == QT.F16 else QT.F32
    if len(shape) <= 1 or gname.endswith("_norm.weight"):
        return QT.F32
    if qtype is None and (gname.startswith("v.position_embd") or not gname.endswith(".weight")):
        return QT.F32
    qtype = out if qtype is None else qtype  # not `or`: F32 is 0
    if qtype == QT.Q8_0 and shape[-1] % 32 != 0:
        return QT.F16  # the reference falls back when rows are not whole Q8_0 blocks
    return qtype


def plan_projector(ckpt: Checkpoint, family: VisionFamily, vision: dict[str, Any], out: QT) -> list[TensorPlan]:
    # with two towers the reference maps block numbers up to 128, enough for either
    blocks = 128 if family.audio and ckpt.config.get("audio_config") else int(vision["num_hidden_layers"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.MMPROJ, blocks)
    plans = []
    for name, ref in ckpt.tensors.items():
        if "language_model." in name or not family.keep(name):
            continue
        if ref.dtype not in ("F32", "F16", "BF16", "F64"):
            raise ConvertError(f"tensor {name!r} is stored as {ref.dtype}; only float weights can be converted")
        for part in family.split(name, ref, vision) or [Part(name, ref.shape)]:
            gname = part.name if part.gguf_name else names.get_name(
                part.name.replace("_weight", ".weight"), try_suffixes=_SUFFIXES)
            if gname is None:
                raise ConvertError(f"tensor {name!r} has no counterpart in llama.cpp's {family.projector_type} "
                                   "projector")
            qtype = _tensor_type(gname, name, part.shape, family, out)
            plans.append(TensorPlan(gname, part.shape, qtype, ref, rows=part.rows, transform=part.transform,
                                    shift=family.shift(name)))
    if not plans:
        raise ConvertError(f"{ckpt.folder.name} holds no vision tower tensors")
    return plans


def _writer(ckpt: Checkpoint, family: VisionFamily, plans: list[TensorPlan], out: QT) -> gguf.GGUFWriter:
    config = ckpt.config
    vision = family.vision_params(config.get("vision_config", {}))
    text = {**config, **config.get("text_config", {})}
    n_embd_text = text.get("hidden_size", text.get("n_embd", 0))
    if not n_embd_text:
        raise ConvertError("config.json names no hidden size of the text model, which the projector needs")
    pre = _preprocessor(ckpt.folder)
    if "image_mean" not in pre or "image_std" not in pre:
        raise ConvertError("preprocessor_config.json lacks image_mean/image_std, which the projector needs",
                           hint="download the repository's preprocessor_config.json too")
    writer = new_writer(ckpt, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.MMPROJ], gguf.GGUFType.MMPROJ, plans)
    writer.add_file_type(int(FILE_TYPES[out]))
    writer.add_clip_has_vision_encoder(True)
    writer.add_vision_projection_dim(int(n_embd_text))
    writer.add_vision_image_size(vision["image_size"])
    writer.add_vision_patch_size(vision["patch_size"])
    writer.add_vision_embedding_length(vision["hidden_size"])
    writer.add_vision_feed_forward_length(vision["intermediate_size"])
    writer.add_vision_block_count(vision["num_hidden_layers"])
    writer.add_vision_head_count(vision["num_attention_heads"])
    writer.add_vision_image_mean(pre["image_mean"])
    writer.add_vision_image_std(pre["image_std"])
    family.write_params(writer, vision, pre, config)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    return writer


def convert_mmproj(
    folder: Path,
    out: Path | None = None,
    outtype: str = "f16",
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> ConvertResult:
    """The checkpoint's projector as an mmproj GGUF (F16 by default: what vision models load best)."""

    if outtype not in OUT_TYPES:
        raise ConvertError(f"output type {outtype!r} is not one of {', '.join(OUT_TYPES)}")
    ckpt = open_checkpoint(folder)
    family = vision_family(ckpt)
    vision = family.vision_params(ckpt.config.get("vision_config", {}))
    plans = plan_projector(ckpt, family, vision, OUT_TYPES[outtype])
    writer = _writer(ckpt, family, plans, OUT_TYPES[outtype])
    out = out or default_output(folder, outtype)
    write_file(writer, out, plans, progress, cancelled)
    return ConvertResult(out, "clip", len(plans), out.stat().st_size)


def _no_forced(_name: str, _gguf_name: str, _out: QT) -> QT | None:
    return None


def _gemma3_gguf_forced(_name: str, gguf_name: str, _out: QT) -> QT | None:
    return QT.F16 if "input_projection" in gguf_name else None  # Gemma 3's projection matrix stays F16


# projectors whose tensor types follow the rules above, by GGUF name (a GGUF holds no checkpoint names): the
# vision tower's projector type, and the audio tower's where the file has one
RETYPED: dict[str, Callable[[str, str, QT], QT | None]] = {
    "gemma3": _gemma3_gguf_forced, "qwen2vl_merger": _no_forced, "qwen25vl": _no_forced,
    "qwen3vl_merger": _no_forced, "gemma4v": gemma4_gguf_forced,
}
RETYPED_AUDIO = {"gemma4v": "gemma4a"}  # a vision projector type -> the audio tower it is written with


def can_retype(kind: str, audio: bool) -> bool:
    """Whether retype_mmproj knows the type rules of a projector (its vision projector type, whether it also
    holds an audio tower)."""
    return kind in RETYPED and (not audio or kind in RETYPED_AUDIO)


def retype_mmproj(src: Path, out: Path, outtype: str) -> ConvertResult:
    """An mmproj GGUF in another type (an F16 projector beside a GGUF to Q8_0), each tensor typed by the rules of
    a conversion; the metadata is copied. Values come from the file's F32/F16 tensors, so an F16 source gives a
    Q8_0 of its F16-rounded weights (a conversion from the checkpoint rounds once)."""
    if outtype not in OUT_TYPES:
        raise ConvertError(f"output type {outtype!r} is not one of {', '.join(OUT_TYPES)}")
    target = OUT_TYPES[outtype]
    reader = gguf.GGUFReader(src)
    kind = _field(reader, "clip.projector_type") or _field(reader, "clip.vision.projector_type")
    audio = _field(reader, "clip.audio.projector_type")
    if kind not in RETYPED or (audio and RETYPED_AUDIO.get(kind) != audio):
        what = f"{kind} + {audio}" if audio else kind
        raise ConvertError(f"a {what or 'unknown'} projector cannot be re-typed here",
                           hint="copy it as it is, or convert it from the Hugging Face checkpoint")
    family = VisionFamily(kind, lambda _n: True, RETYPED[kind], lambda _n: 0.0, lambda *_a: None, lambda v: v)
    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.MMPROJ])
    plans = []
    for tensor in reader.tensors:
        if tensor.tensor_type not in (QT.F32, QT.F16):
            raise ConvertError(f"{src.name} stores {tensor.name} as {tensor.tensor_type.name}; only F32/F16 "
                               "projectors can be re-typed")
        data = tensor.data
        shape = tuple(int(d) for d in data.shape)
        qtype = _tensor_type(tensor.name, tensor.name, shape, family, target)
        plan = TensorPlan(tensor.name, shape, qtype, None, data=data)
        plans.append(plan)
        nbytes = plan.n_rows * kernels.row_bytes(plan.n_cols, qtype)
        writer.add_tensor_info(tensor.name, shape, np.dtype(np.float32), nbytes, raw_dtype=qtype)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        if name == "general.file_type":  # in its place, so the keys keep a conversion's order
            writer.add_file_type(int(FILE_TYPES[target]))
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), vtype, sub)
    if "general.file_type" not in reader.fields:
        writer.add_file_type(int(FILE_TYPES[target]))
    write_file(writer, out, plans, None, None)
    return ConvertResult(out, "clip", len(plans), out.stat().st_size)


def _field(reader: gguf.GGUFReader, key: str) -> str:
    field = reader.fields.get(key)
    return str(field.contents()) if field is not None else ""


__all__ = ["FAMILIES", "RETYPED", "Part", "VisionFamily", "can_retype", "convert_mmproj", "default_output",
           "plan_projector", "retype_mmproj", "vision_family"]
