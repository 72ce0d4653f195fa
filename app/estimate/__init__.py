"""The memory model (no Qt): what loading a model costs in RAM and VRAM, the offload planner and the
quant recommender. Everything here is pure computation on frozen values; `shape_from_header` (in
app.estimate.shape) turns a GGUF header into the `ModelShape` the rest works on."""

from app.estimate.cpu import NO_REPACK, CpuBackend, cpu_backend
from app.estimate.engine import engine_load_settings, engine_settings, llama_server_load_settings
from app.estimate.hardware import HardwareSpec, spec_from_info
from app.estimate.kv import KvCache, KvLayer
from app.estimate.memory import DeviceBytes, MemoryEstimate, Part, estimate
from app.estimate.model import ModelShape
from app.estimate.planner import (
    DEFAULT_MARGIN,
    Verdict,
    classify,
    fits,
    max_context,
    plan_cpu_moe,
    plan_gpu_layers,
    verdict,
    verdict_context,
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
from app.estimate.verdict import VERDICT_WORDS, VerdictKind, verdict_words

__all__ = [
    "DEFAULT_MARGIN",
    "NO_REPACK",
    "VERDICT_WORDS",
    "CpuBackend",
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
    "cpu_backend",
    "engine_load_settings",
    "engine_settings",
    "estimate",
    "fits",
    "kv_type_names",
    "llama_cpp_kwargs",
    "llama_server_load_settings",
    "max_context",
    "parse_flash_attn",
    "parse_gpu_layers",
    "plan_cpu_moe",
    "plan_gpu_layers",
    "recommend",
    "spec_from_info",
    "verdict",
    "verdict_context",
    "verdict_words",
]
