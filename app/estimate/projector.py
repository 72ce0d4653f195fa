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

Gemma 4's vision tower (gemma4v) takes images of any size; mtmd reserves for a warm-up image of 16 × 16 tokens
after its k × k pooling (k: clip.vision.projector.scale_factor, 3 when absent), so 16·k·p pixels a side and
(16·k)² patches whatever clip.vision.image_size says (the converter writes an unused 224). Its buffer is the
largest of three stages over n patches; the raw image (3·S² f32) is placed first and its freed block stays at
the bottom of the buffer under each stage, as do the two position inputs (2·n i32):
  - the image: the raw image, its im2col patch matrix (n × 3·p² f16) and the positions;
  - attention: five n × d f32 (Q, K, V, the output and the residual), plus n² × heads f32 without flash attention;
  - the gated FFN: three n × d f32 (the residual, a freed block between, the normed input), then up, gate and
    their GELU product (three n × ff f32).
A stage's tensors go into the raw image's freed block where they fit, as ggml's allocator places them (see
_above and _ffn_above); the rest stacks above it. This matched mtmd's log to the 0.01 MiB for 43 towers of two
layers (patches of 4 to 16 pixels, widths 32 to 192, FFNs 64 to 768, 2 to 8 heads, the width equal to the raw
image's block as in the published tower), each with and without flash attention. Like the fixed-size
towers above, it is a model of the allocator's packing checked against mtmd's log, not a rule from its code, and
it is marked exact on that evidence; a one-layer tower packs otherwise (its last layer is its first) and is
marked approximate.

Gemma 4's audio tower (gemma4a: tools/mtmd/models/gemma4a.cpp) is reserved for the same 3000-frame warm-up clip.
Two 3 × 3 convolutions of stride 2 subsample time and mel bins; the second's stage is the largest: the first
one's output (T/2 × M/2 × c0 f32) beside the second's im2col (T/4 × M/4 × 9·c0 f16), over the graph's inputs
(the clip, the chunked attention's mask and its relative positions). For the published shape (128 mel bins,
128 first channels) that is 101.2 MiB whatever the conformer's width: its layers over 750 positions need far
less. Exact to the log's 0.01 MiB with and without flash attention, for conformers 32 to 512 wide.
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

_F32, _F16, _I32 = 4, 2, 4
# projector types whose tower sees one image of a fixed size (clip.vision.image_size)
FIXED_SIZE = frozenset({"gemma3", "mlp", "ldp", "ldpv2", "mlp_norm", "idefics3", "lfm2", "pixtral_fixed"})
WHISPER_ENCODERS = frozenset({"ultravox", "voxtral", "qwen2a", "glma", "meralion", "musicflamingo"})
_WARMUP_AUDIO_FRAMES = 3000
_GEMMA4_WARMUP_TOKENS_SIDE = 16  # clip.cpp: set_warmup_n_tokens(256) for gemma4v
_GEMMA4_POOLING = 3  # clip.cpp's default n_merge for gemma4v
_GEMMA4A_CHUNK, _GEMMA4A_CONTEXT, _GEMMA4A_POSITIONS = 12, 24, 13  # gemma4a.cpp: C, S = C + P, R = P + 1


@dataclass(frozen=True, slots=True)
class ProjectorMemory:
    weights: int  # bytes of the projector's tensors
    compute: int  # bytes of the compute buffer reserved for one image
    exact_compute: bool  # False: a tower with dynamic image sizes, where the model above is a lower bound
    projector_type: str
    audio_compute: int = 0  # of compute, the audio tower's (a projector with both towers has a buffer for each)

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
        audio_exact = audio_kind in WHISPER_ENCODERS or audio_kind == "gemma4a"
        if audio_kind == "gemma4a":
            audio = _gemma4a_compute(header)
        else:
            audio = _audio_compute(header, flash_attn) if audio_exact else 0  # other audio towers: not modelled
    if not meta.get("clip.has_vision_encoder", False):
        return ProjectorMemory(weights, audio, audio_exact and audio > 0, audio_kind, audio)
    if kind == "gemma4v":
        exact = audio_exact and _int(header, "clip.vision.block_count") > 1
        return ProjectorMemory(weights, _gemma4v_compute(header, flash_attn) + audio, exact, kind, audio)
    size = _int(header, "clip.vision.image_size")
    patch = _int(header, "clip.vision.patch_size")
    d = _int(header, "clip.vision.embedding_length")
    ff = _int(header, "clip.vision.feed_forward_length")
    heads = _int(header, "clip.vision.attention.head_count")
    n = (size // patch) ** 2
    image = 3 * size * size * _F32 + n * 3 * patch * patch * _F16
    attention = 0 if flash_attn else n * n * heads * _F32  # flash attention never holds the whole matrix
    layer = attention + n * ff * _F32 + (3 if flash_attn else 2) * n * d * _F32
    return ProjectorMemory(weights, max(image, layer) + audio, kind in FIXED_SIZE and audio_exact, kind, audio)


def _gemma4v_compute(header: GGUFHeader, flash_attn: bool) -> int:
    patch = _int(header, "clip.vision.patch_size")
    d = _int(header, "clip.vision.embedding_length")
    ff = _int(header, "clip.vision.feed_forward_length")
    heads = _int(header, "clip.vision.attention.head_count")
    pooling = header.metadata.get("clip.vision.projector.scale_factor")
    side = _GEMMA4_WARMUP_TOKENS_SIDE * (pooling if isinstance(pooling, int) and pooling > 0 else _GEMMA4_POOLING)
    n = side * side
    hole = 3 * (side * patch) ** 2 * _F32  # the raw image's block, free once the patches are embedded
    positions = 2 * n * _I32
    width, ffn_width = n * d * _F32, n * ff * _F32
    image = hole + positions + n * 3 * patch * patch * _F16
    kq = [] if flash_attn else [n * n * heads * _F32]
    attention = positions + hole + _above(hole, [width] * 5 + kq)
    return max(image, attention, positions + hole + _ffn_above(hole, width, ffn_width))


def _above(hole: int, sizes: list[int]) -> int:
    """What a stage stacks above the hole: its tensors, largest first, go into the hole while they fit."""
    top = 0
    for size in sorted(sizes, reverse=True):
        if size <= hole:
            hole -= size
        else:
            top += size
    return top


def _ffn_above(hole: int, width: int, ffn_width: int) -> int:
    """The gated FFN's stage: the residual, a block freed between, the normed input (n × d each, into the hole
    in that order while they fit), then up, gate and their product (n × ff each) into the smallest free block
    they fit (the hole's rest or the freed one), else on top."""
    top = 0
    placed = []
    for _ in range(3):
        placed.append(width <= hole)
        if placed[-1]:
            hole -= width
        else:
            top += width
    gap_in_hole, last_in_hole = placed[1], placed[2]
    free = [hole + width] if gap_in_hole and not last_in_hole else [hole, width]  # adjacent blocks merge
    for _ in range(3):
        fits = [block for block in free if block >= ffn_width]
        if fits:
            free[free.index(min(fits))] -= ffn_width
        else:
            top += ffn_width
    return top


def _gemma4a_compute(header: GGUFHeader) -> int:
    mel = _int(header, "clip.audio.num_mel_bins")
    d = _int(header, "clip.audio.embedding_length")
    first = next((t for t in header.tensors if t.name == "a.conv1d.0.weight"), None)
    if first is None or len(first.shape) != 4:
        raise EstimateError(f"{header.path_or_source} has no a.conv1d.0.weight, which Gemma 4's audio tower needs",
                            hint="the projector file is damaged or not a Gemma 4 projector")
    channels = int(first.shape[3])

    def half(x: int) -> int:  # a 3-wide convolution of stride 2 with one padding each side
        return (x - 1) // 2 + 1

    frames, bins = half(_WARMUP_AUDIO_FRAMES), half(mel)
    positions = half(frames)
    inputs = (_WARMUP_AUDIO_FRAMES * mel + _GEMMA4A_CONTEXT * _GEMMA4A_CHUNK * -(-positions // _GEMMA4A_CHUNK)
              + d * _GEMMA4A_POSITIONS) * _F32
    return inputs + frames * bins * channels * _F32 + positions * half(bins) * 9 * channels * _F16


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
