"""Memory of a multimodal projector (mmproj GGUF) as llama.cpp's mtmd allocates it: its weights, and the compute
buffer mtmd reserves for one image when it loads (tools/mtmd/clip.cpp: the graph of a warm-up image of the
tower's full size, allocated by ggml's scheduler). Read from the header alone, so Discover can show it.

Weights are exact: one backend buffer holding every tensor (`load_hparams: model size` in llama.cpp's log).
The compute buffer follows the tower's largest live tensors, for ViT towers of a fixed input size (SigLIP in
Gemma 3 and most llava-style projectors); it matched llama.cpp's log to the MiB for the towers the tests load:
  - the input image (3 × S² f32) beside its im2col patch matrix (n × 3·p² f16), or
  - one encoder layer: the FFN's n × ff and three n × d f32 activations with flash attention; without it the
    attention matrix (n² × heads f32), the FFN and two n × d.
Towers that resize or tile images dynamically (Qwen-VL, MiniCPM-V, llava-next...) are marked approximate.

Audio towers of the Whisper family (Qwen2-Audio, Ultravox, Voxtral...: tools/mtmd/models/whisper-enc.cpp) are
reserved for a warm-up clip of 3000 mel frames (30 s; clip-model.h's warmup_audio_size), which two 1-D
convolutions (the second of stride 2) turn into 1500 positions. The buffer is the largest of: the mel input
beside conv1's im2col (kernel 3); a layer's FFN (n × ff and three n × d f32); its attention (four n × d f32, plus
the n² × heads matrix without flash attention). A model with both towers (vision and audio)
has two mtmd contexts, each with its own compute buffer.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from app.core.errors import EstimateError
from app.estimate.hardware import HardwareSpec
from app.estimate.memory import estimate
from app.estimate.model import ModelShape
from app.estimate.planner import DEFAULT_MARGIN, Verdict, fits, verdict
from app.estimate.settings import LoadSettings
from app.estimate.verdict import VerdictKind
from app.gguf.reader import GGUFHeader

_F32, _F16 = 4, 2
# projector types whose tower sees one image of a fixed size (clip.vision.image_size)
FIXED_SIZE = frozenset({"gemma3", "mlp", "ldp", "ldpv2", "mlp_norm", "idefics3", "lfm2", "pixtral_fixed"})
WHISPER_ENCODERS = frozenset({"ultravox", "voxtral", "qwen2a", "glma", "meralion", "musicflamingo"})
_WARMUP_AUDIO_FRAMES = 3000


@dataclass(frozen=True, slots=True)
class ProjectorMemory:
    weights: int  # bytes of the projector's tensors
    compute: int  # bytes of the compute buffer reserved for one image
    exact_compute: bool  # False: a tower with dynamic image sizes, where the model above is a lower bound
    projector_type: str

    @property
    def total(self) -> int:
        return self.weights + self.compute


def _int(header: GGUFHeader, key: str) -> int:
    value = header.metadata.get(key)
    if not isinstance(value, int) or value <= 0:
        raise EstimateError(f"{header.path_or_source} has no usable {key}",
                            hint="the projector file is damaged or not a vision projector")
    return value


def projector_memory(header: GGUFHeader, *, flash_attn: bool = True) -> ProjectorMemory:
    """What loading this projector with mtmd costs (on the CPU, or on the GPU the engine offloads to)."""
    meta = header.metadata
    if meta.get("general.type") != "mmproj" and header.architecture != "clip":
        raise EstimateError(f"{header.path_or_source} is not a multimodal projector (mmproj) file")
    kind = str(meta.get("clip.projector_type") or meta.get("clip.vision.projector_type") or "")
    weights = header.tensor_bytes
    audio_kind = str(meta.get("clip.audio.projector_type") or kind)
    audio, audio_exact = 0, True
    if meta.get("clip.has_audio_encoder", False):
        audio_exact = audio_kind in WHISPER_ENCODERS
        audio = _audio_compute(header, flash_attn) if audio_exact else 0  # other audio towers: not modelled
    if not meta.get("clip.has_vision_encoder", False):
        return ProjectorMemory(weights, audio, audio_exact and audio > 0, audio_kind)
    size = _int(header, "clip.vision.image_size")
    patch = _int(header, "clip.vision.patch_size")
    d = _int(header, "clip.vision.embedding_length")
    ff = _int(header, "clip.vision.feed_forward_length")
    heads = _int(header, "clip.vision.attention.head_count")
    n = (size // patch) ** 2
    image = 3 * size * size * _F32 + n * 3 * patch * patch * _F16
    attention = 0 if flash_attn else n * n * heads * _F32  # flash attention never holds the whole matrix
    layer = attention + n * ff * _F32 + (3 if flash_attn else 2) * n * d * _F32
    return ProjectorMemory(weights, max(image, layer) + audio, kind in FIXED_SIZE and audio_exact, kind)


def _audio_compute(header: GGUFHeader, flash_attn: bool) -> int:
    mel = _int(header, "clip.audio.num_mel_bins")
    d = _int(header, "clip.audio.embedding_length")
    ff = _int(header, "clip.audio.feed_forward_length")
    heads = _int(header, "clip.audio.attention.head_count")
    frames = _WARMUP_AUDIO_FRAMES
    n = frames // 2
    clip = frames * mel * _F32 + frames * 3 * mel * _F16
    ffn = n * ff * _F32 + 3 * n * d * _F32
    attention = (0 if flash_attn else n * n * heads * _F32) + 4 * n * d * _F32
    return max(clip, ffn, attention)  # measured against mtmd's log for four tower shapes, with and without FA


def projector_file_memory(path: str, *, flash_attn: bool = True) -> ProjectorMemory:
    """projector_memory of a file, its header read once per version of the file (the load panel asks on every
    slider move)."""
    from pathlib import Path

    from app.gguf.reader import read_header

    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise EstimateError(f"The projector {path} cannot be read: {exc.strerror or exc}") from exc
    return _cached(path, stat.st_mtime_ns, stat.st_size, flash_attn, read_header)


@functools.lru_cache(maxsize=16)
def _cached(path: str, _mtime: int, _size: int, flash_attn: bool, read: Any) -> ProjectorMemory:
    return projector_memory(read(path), flash_attn=flash_attn)


def projector_on_gpu(n_gpu_layers: int, hardware: HardwareSpec) -> bool:
    """Where mtmd puts the projector: on the GPU when the model has layers there (the engine's use_gpu, as
    llama-server's), else in RAM."""
    return n_gpu_layers != 0 and hardware.gpu_offload_supported


def hardware_left(hardware: HardwareSpec, projector_bytes: int, on_gpu: bool) -> HardwareSpec:
    """The memory left for the model once the projector is loaded on its device."""
    if on_gpu:
        return dataclasses.replace(hardware, vram_free=max(hardware.vram_free - projector_bytes, 0))
    return dataclasses.replace(hardware, ram_available=max(hardware.ram_available - projector_bytes, 0))


def images_verdict(
    model: ModelShape, settings: LoadSettings, hardware: HardwareSpec, projector_bytes: int,
    margin: int = DEFAULT_MARGIN,
) -> tuple[Verdict, HardwareSpec]:
    """The verdict with the projector loaded beside the model ("with images"), and the memory left for the
    model (which the largest context is planned on). A projector goes to the GPU with any offloaded layer, so
    a GPU placement is planned on the VRAM it leaves; failing that, CPU only with the projector in RAM."""
    if projector_bytes <= 0:
        return verdict(model, settings, hardware, margin), hardware
    if hardware.has_gpu:
        left = hardware_left(hardware, projector_bytes, on_gpu=True)
        result = verdict(model, settings, left, margin)
        if result.n_gpu_layers > 0 and result.kind is not VerdictKind.WONT_FIT:
            return result, left
    left = hardware_left(hardware, projector_bytes, on_gpu=False)
    cpu = estimate(model, dataclasses.replace(settings, n_gpu_layers=0), gpu_available=False, cpu=hardware.cpu)
    kind = VerdictKind.CPU_ONLY if fits(cpu, left, margin) else VerdictKind.WONT_FIT
    return Verdict(kind, 0, model.n_layer + 1, cpu), left


__all__ = ["FIXED_SIZE", "ProjectorMemory", "hardware_left", "images_verdict", "projector_file_memory",
           "projector_memory", "projector_on_gpu"]
