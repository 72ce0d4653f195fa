"""Probe RAM (psutil), NVIDIA GPUs (NVML), Apple unified memory and the llama.cpp build.

A missing NVML library or no GPU is an ordinary answer (an empty tuple and a note), never an exception.
Importing llama_cpp loads native libraries, so callers run `probe_hardware` off the GUI thread.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import platform
import re
import sys
from pathlib import Path

import psutil

from app.hardware.info import GpuInfo, HardwareInfo, LlamaBackend

log = logging.getLogger("app.hardware")

_BACKEND_LIB = re.compile(r"^(?:lib)?ggml-([a-z0-9]+)\.(?:so|dylib|dll)$")
_NON_DEVICE_LIBS = {"base"}
# Backends that never mean a local GPU: llama_supports_gpu_offload() is also true for a build whose only
# offload device is an RPC worker on another machine, and that is not this machine's GPU.
_NOT_LOCAL_GPU = {"cpu", "rpc", "blas"}


def probe_nvidia() -> tuple[tuple[GpuInfo, ...], str]:
    """NVIDIA GPUs with name, total/free VRAM and driver; an empty tuple and the reason when there are none."""
    try:
        import pynvml
    except ImportError:
        return (), "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return (), f"no NVIDIA driver found ({exc})"
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                GpuInfo(
                    index=index,
                    name=_text(pynvml.nvmlDeviceGetName(handle)),
                    vram_total=int(memory.total),
                    vram_free=int(memory.free),
                    driver=driver,
                )
            )
        return tuple(gpus), "" if gpus else "NVIDIA driver present but no GPU"
    except pynvml.NVMLError as exc:
        return (), f"NVML error: {exc}"
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def probe_apple(ram_total: int, ram_available: int) -> tuple[GpuInfo, ...]:
    """Apple Silicon GPUs share system memory: one GPU whose 'VRAM' is the unified RAM."""
    if sys.platform != "darwin" or platform.machine() != "arm64":
        return ()
    return (
        GpuInfo(
            index=0,
            name=f"Apple {platform.processor() or 'Silicon'} GPU",
            vram_total=ram_total,
            vram_free=ram_available,
            api="metal",
            unified_memory=True,
        ),
    )


def llama_backend_libraries(lib_dir: Path) -> tuple[str, ...]:
    """ggml backends shipped beside libllama, from their library names (libggml-cuda.so → cuda)."""
    found = set()
    for entry in lib_dir.iterdir() if lib_dir.is_dir() else ():
        match = _BACKEND_LIB.match(entry.name)
        if match and match.group(1) not in _NON_DEVICE_LIBS:
            found.add(match.group(1))
    return tuple(sorted(found))


def probe_llama() -> tuple[LlamaBackend | None, str]:
    try:
        import llama_cpp
    except Exception as exc:  # a broken native build must not take the probe down
        return None, f"llama-cpp-python unavailable: {exc}"
    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    info = llama_cpp.llama_print_system_info()
    backends = llama_backend_libraries(lib_dir)
    return (
        LlamaBackend(
            version=importlib.metadata.version("llama-cpp-python"),
            gpu_offload=local_gpu_offload(bool(llama_cpp.llama_supports_gpu_offload()), backends),
            backends=backends,
            system_info=_text(info).strip(),
        ),
        "",
    )


def local_gpu_offload(supports_offload: bool, backends: tuple[str, ...]) -> bool:
    """Whether this build can offload to a GPU of this machine."""
    return supports_offload and any(name not in _NOT_LOCAL_GPU for name in backends)


def cpu_name() -> str:
    if sys.platform.startswith("linux"):
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return platform.processor() or platform.machine()


def probe_memory() -> tuple[int, int]:
    memory = psutil.virtual_memory()
    return int(memory.total), int(memory.available)


def probe_hardware(*, include_llama: bool = True) -> HardwareInfo:
    ram_total, ram_available = probe_memory()
    gpus, gpu_note = probe_nvidia()
    if not gpus:
        gpus = probe_apple(ram_total, ram_available)
    notes = [gpu_note] if gpu_note and not gpus else []
    llama, llama_note = probe_llama() if include_llama else (None, "")
    if llama_note:
        notes.append(llama_note)
    if gpus and llama is not None and not llama.gpu_offload:
        notes.append("this llama.cpp build is CPU-only: rebuild llama-cpp-python with a GPU backend to offload")
    info = HardwareInfo(
        ram_total=ram_total,
        ram_available=ram_available,
        cpu_name=cpu_name(),
        cpu_physical_cores=psutil.cpu_count(logical=False) or 1,
        cpu_logical_cores=psutil.cpu_count(logical=True) or 1,
        os=f"{platform.system()} {platform.release()}",
        machine=platform.machine(),
        gpus=gpus,
        llama=llama,
        notes=tuple(notes),
    )
    log.info("hardware: %s", summary(info))
    return info


def refresh_free_memory(info: HardwareInfo) -> HardwareInfo:
    """A cheap update of free RAM and VRAM for an earlier probe (no llama.cpp import)."""
    from dataclasses import replace

    ram_total, ram_available = probe_memory()
    gpus, _ = probe_nvidia()
    if not gpus:
        gpus = probe_apple(ram_total, ram_available)
    return replace(info, ram_available=ram_available, gpus=gpus or info.gpus)


def summary(info: HardwareInfo) -> str:
    from app.core.units import format_bytes

    parts = [f"RAM {format_bytes(info.ram_total)} ({format_bytes(info.ram_available)} free)"]
    if info.gpus:
        for gpu in info.gpus:
            kind = "unified" if gpu.unified_memory else "VRAM"
            parts.append(f"{gpu.name} {format_bytes(gpu.vram_total)} {kind} ({format_bytes(gpu.vram_free)} free)")
    else:
        parts.append("no GPU")
    if info.llama is None:
        parts.append("llama.cpp unavailable")
    else:
        backends = "+".join(b.upper() for b in info.llama.backends) or "CPU"
        offload = "GPU offload" if info.llama.gpu_offload else "no GPU offload"
        parts.append(f"llama.cpp {backends} ({offload})")
    return " · ".join(parts)
