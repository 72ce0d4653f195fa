"""Load a model with the real llama.cpp (llama-cpp-python's low-level API) and read back the buffer sizes
it logs. The log arrives through llama.cpp's log callback (`llama_log_set`), not by capturing stdout.

Used by the acceptance tests and by benchmarks/estimate_vs_llama.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.chat.client import EngineClient
from app.estimate import FlashAttn, KvLayer, LoadSettings, MemoryEstimate

_FLASH = {FlashAttn.AUTO: -1, FlashAttn.OFF: 0, FlashAttn.ON: 1}
_LOCK = threading.Lock()  # the log callback is process-wide

_MODEL_BUF = re.compile(r"load_tensors:\s+(\S+) model buffer size =\s+([\d.]+) MiB")
_KV_BUF = re.compile(r"llama_kv_cache:\s+(\S+) KV buffer size =\s+([\d.]+) MiB")
_KV_SIZE = re.compile(
    r"llama_kv_cache: size =\s+([\d.]+) MiB \(\s*(\d+) cells,\s+(\d+) layers,\s+(\d+)/(\d+) seqs\), "
    r"K \((\w+)\):\s+([\d.]+) MiB, V \((\w+)\):\s+([\d.]+) MiB"
)
_RS_BUF = re.compile(r"llama_memory_recurrent:\s+(\S+) RS buffer size =\s+([\d.]+) MiB")
_RS_SIZE = re.compile(
    r"llama_memory_recurrent: size =\s+([\d.]+) MiB \(\s*(\d+) cells,\s+(\d+) layers,\s+(\d+) seqs\s+(\d+) rs_seq\), "
    r"R \((\w+)\):\s+([\d.]+) MiB, S \((\w+)\):\s+([\d.]+) MiB(?:, P \(\w+\):\s+([\d.]+) MiB)?"
)
# DeepSeek-V4's compressor states (llama-kv-cache-dsv4.cpp): one size line per state (csa, hca, lid)
_DSV4_STATE = re.compile(
    r"llama_dsv4_comp_state: (\w+) ratio = \d+, state = \d+ x \d+, streams = \d+, rs_seq = \d+, "
    r"layers = (\d+), size =\s+([\d.]+) MiB"
)
_DSV4_STATE_BUF = re.compile(r"llama_dsv4_comp_state:\s+(\S+) DSV4 (\w+) state buffer size =\s+([\d.]+) MiB")
_OUTPUT_BUF = re.compile(r"llama_context:\s+(\S+)\s+output buffer size =\s+([\d.]+) MiB")
_COMPUTE_BUF = re.compile(r"~llama_context:\s+(\S+) compute buffer size is\s+([\d.]+) MiB")
# logged when the context is created (the line above, with more digits, only when it is freed and at DEBUG)
_RESERVED_COMPUTE_BUF = re.compile(r"sched_reserve:\s+(\S+) compute buffer size =\s+([\d.]+) MiB")


@dataclass(frozen=True, slots=True)
class KvLog:
    """One `llama_kv_cache: size = …` line (an SWA model logs two: the full cache, then the SWA one)."""

    size_mib: str
    cells: int
    layers: int
    k_type: str
    k_mib: str
    v_type: str
    v_mib: str


@dataclass(frozen=True, slots=True)
class RsLog:
    """The `llama_memory_recurrent: size = …` line of a recurrent or hybrid model."""

    size_mib: str
    cells: int
    layers: int
    r_mib: str
    s_mib: str
    p_mib: str = "0.00"  # Qwen4-Exp's PLE convolution history


@dataclass(slots=True)
class LlamaReport:
    model_size: int = 0  # llama_model_size: bytes of all weights, exact
    model_buffers: dict[str, float] = field(default_factory=dict)  # buffer name -> MiB
    kv: list[KvLog] = field(default_factory=list)
    kv_buffers: list[tuple[str, str]] = field(default_factory=list)  # (buffer name, MiB) per cache
    output_buffers: dict[str, str] = field(default_factory=dict)
    rs: list[RsLog] = field(default_factory=list)
    rs_buffers: list[tuple[str, str]] = field(default_factory=list)  # (buffer name, MiB)
    compute_buffers: dict[str, float] = field(default_factory=dict)  # MiB, 4 decimals
    dsv4_states: list[tuple[str, int, str]] = field(default_factory=list)  # (name, layers, MiB)
    dsv4_state_buffers: list[tuple[str, str, str]] = field(default_factory=list)  # (buffer, state name, MiB)
    log: str = ""


def mib_float32(n_bytes: int) -> str:
    """How llama.cpp prints the KV sizes: (float)bytes / (1024.0f*1024.0f) with %.2f."""
    value = np.float32(n_bytes) / np.float32(1024.0 * 1024.0)
    return f"{float(value):.2f}"


def mib_double(n_bytes: int) -> str:
    """How llama.cpp prints buffer sizes: bytes / 1024.0 / 1024.0 with %.2f."""
    return f"{n_bytes / 1024.0 / 1024.0:.2f}"


def expected_kv(est: MemoryEstimate, has_swa: bool) -> list[tuple[int, int, int, int]]:
    """(cells, layers, K bytes, V bytes) of each `llama_kv_cache: size = …` line llama.cpp logs, in its order:
    the attention cache (its full-size part with sliding-window layers), the indexer cache of sparse
    attention, then the sliding-window part. With a sliding window the full part is logged even when empty."""

    def cache(layers: tuple[KvLayer, ...], cells: int) -> tuple[int, int, int, int]:
        return cells, len(layers), sum(x.k_bytes for x in layers), sum(x.v_bytes for x in layers)

    full = est.kv.part(swa=False) if has_swa else est.kv.layers
    caches = [cache(full, est.kv.cells_full)] if full or has_swa else []
    sizes = est.state.sizes if est.state else None
    if sizes and sizes.idx_bytes:
        n_idx = sum(1 for x in sizes.layers if x.idx_bytes)
        caches.append((est.kv.cells_full, n_idx, sizes.idx_bytes - sizes.idx_v_bytes, sizes.idx_v_bytes))
    if has_swa:
        caches.append(cache(est.kv.part(swa=True), est.kv.cells_swa))
    # DeepSeek-V4: its compressed K caches (CSA, HCA, lightning indexer) after the raw one
    caches += [(x.cells, len(x.layers), x.n_bytes, 0) for x in (sizes.compressed if sizes else ()) if x.cells]
    return caches


def expected_dsv4_states(est: MemoryEstimate) -> list[tuple[str, int, str]]:
    """(name, layers, MiB) of each `llama_dsv4_comp_state: … size = …` line llama.cpp logs."""
    parts = est.state.sizes.compressed if est.state else ()
    return [(x.name.split()[0], len(x.layers), mib_double(x.n_bytes)) for x in parts if not x.cells]


def _ggml_type(name: str) -> int:
    from app.gguf.types import ggml_types_by_name

    return ggml_types_by_name()[name.upper()].id


def parse(text: str) -> LlamaReport:
    report = LlamaReport(log=text)
    for m in _MODEL_BUF.finditer(text):
        report.model_buffers[m.group(1)] = report.model_buffers.get(m.group(1), 0.0) + float(m.group(2))
    for m in _KV_SIZE.finditer(text):
        report.kv.append(
            KvLog(m.group(1), int(m.group(2)), int(m.group(3)), m.group(6), m.group(7), m.group(8), m.group(9))
        )
    report.kv_buffers = [(m.group(1), m.group(2)) for m in _KV_BUF.finditer(text)]
    report.output_buffers = {m.group(1): m.group(2) for m in _OUTPUT_BUF.finditer(text)}
    report.rs = [
        RsLog(m.group(1), int(m.group(2)), int(m.group(3)), m.group(7), m.group(9), m.group(10) or "0.00")
        for m in _RS_SIZE.finditer(text)
    ]
    report.rs_buffers = [(m.group(1), m.group(2)) for m in _RS_BUF.finditer(text)]
    report.dsv4_states = [(m.group(1), int(m.group(2)), m.group(3)) for m in _DSV4_STATE.finditer(text)]
    report.dsv4_state_buffers = [(m.group(1), m.group(2), m.group(3)) for m in _DSV4_STATE_BUF.finditer(text)]
    report.compute_buffers = {m.group(1): float(m.group(2)) for m in _COMPUTE_BUF.finditer(text)}
    if not report.compute_buffers:
        report.compute_buffers = {m.group(1): float(m.group(2)) for m in _RESERVED_COMPUTE_BUF.finditer(text)}
    return report


@contextlib.contextmanager
def captured_log() -> Iterator[list[str]]:
    """Route llama.cpp's log into a list while the block runs, then give the previous logger back."""
    import llama_cpp

    chunks: list[str] = []

    @llama_cpp.llama_log_callback
    def on_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        chunks.append(text.decode("utf-8", errors="replace"))

    previous, previous_data = llama_cpp.llama_log_callback(), ctypes.c_void_p()
    with _LOCK:
        llama_cpp.llama_log_get(ctypes.byref(previous), ctypes.byref(previous_data))
        llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))
        try:
            yield chunks
        finally:
            llama_cpp.llama_log_set(previous, previous_data)


class RelayedLines(logging.Handler):
    """llama.cpp's log as the engine child relays it (its level follows the app logger's)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def relayed_log() -> Iterator[RelayedLines]:
    """Collect the engine child's llama.cpp lines (relayed at INFO, buffer sizes among them) while the block runs."""
    logger = logging.getLogger("app")
    handler, level = RelayedLines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextlib.contextmanager
def logged_engine() -> Iterator[tuple[EngineClient, RelayedLines]]:
    """A started engine child and the llama.cpp lines it relays while the block runs; closed after it."""
    with relayed_log() as handler:
        client = EngineClient()
        try:
            client.start()
            yield client, handler
        finally:
            client.close()


def load_and_log(path: Path, settings: LoadSettings) -> LlamaReport:
    """Load `path` with `settings` (CPU: n_gpu_layers is passed on but no GPU backend exists here),
    create a context, free both, and return what llama.cpp logged."""
    import llama_cpp

    with captured_log() as chunks:
        llama_cpp.llama_backend_init()
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = settings.n_gpu_layers
        mparams.load_mode = llama_cpp.LLAMA_LOAD_MODE_MMAP if settings.mmap else llama_cpp.LLAMA_LOAD_MODE_NONE
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), mparams)
        if not model:
            raise RuntimeError(f"llama.cpp could not load {path}:\n{''.join(chunks)[-2000:]}")
        model_size = int(llama_cpp.llama_model_size(model))
        try:
            cparams = llama_cpp.llama_context_default_params()
            cparams.n_ctx = settings.n_ctx
            cparams.n_batch = settings.n_batch
            cparams.n_ubatch = settings.n_ubatch
            cparams.n_seq_max = settings.n_seq_max
            cparams.n_outputs_max = settings.n_outputs_max
            cparams.kv_unified = settings.kv_unified
            cparams.offload_kqv = settings.offload_kqv
            cparams.swa_full = settings.swa_full
            cparams.flash_attn_type = _FLASH[settings.flash_attn]
            cparams.type_k = _ggml_type(settings.type_k)
            cparams.type_v = _ggml_type(settings.type_v)
            cparams.n_threads = 1
            cparams.n_threads_batch = 1
            ctx = llama_cpp.llama_init_from_model(model, cparams)
            if not ctx:
                raise RuntimeError(f"llama.cpp could not create a context:\n{''.join(chunks)[-2000:]}")
            llama_cpp.llama_free(ctx)
        finally:
            llama_cpp.llama_model_free(model)
    report = parse("".join(chunks))
    report.model_size = model_size
    return report
