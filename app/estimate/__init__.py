"""The memory model (no Qt): what loading a model costs in RAM and VRAM, the offload planner and the
quant recommender. Everything here is pure computation on frozen values; `shape_from_header` (in
app.estimate.shape) turns a GGUF header into the `ModelShape` the rest works on."""

from app.estimate.hardware import HardwareSpec, spec_from_info
from app.estimate.kv import KvCache, KvLayer
from app.estimate.memory import DeviceBytes, MemoryEstimate, Part, estimate
from app.estimate.model import ModelShape
from app.estimate.planner import (
    DEFAULT_MARGIN,
    Verdict,
    VerdictKind,
    classify,
    fits,
    max_context,
    plan_gpu_layers,
    verdict,
)
from app.estimate.recommend import FileVerdict, QuantFile, Recommendation, recommend
from app.estimate.settings import (
    FlashAttn,
    LoadSettings,
    kv_type_names,
    llama_cpp_kwargs,
    parse_flash_attn,
    parse_gpu_layers,
)

__all__ = [
    "DEFAULT_MARGIN",
    "DeviceBytes",
    "FileVerdict",
    "FlashAttn",
    "HardwareSpec",
    "KvCache",
    "KvLayer",
    "LoadSettings",
    "MemoryEstimate",
    "ModelShape",
    "Part",
    "QuantFile",
    "Recommendation",
    "Verdict",
    "VerdictKind",
    "classify",
    "estimate",
    "fits",
    "kv_type_names",
    "llama_cpp_kwargs",
    "max_context",
    "parse_flash_attn",
    "parse_gpu_layers",
    "plan_gpu_layers",
    "recommend",
    "spec_from_info",
    "verdict",
]
