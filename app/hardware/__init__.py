"""RAM, VRAM and llama.cpp backend of this machine."""

from app.hardware.info import GpuInfo, HardwareInfo, LlamaBackend
from app.hardware.probe import probe_hardware, refresh_free_memory, summary

__all__ = ["GpuInfo", "HardwareInfo", "LlamaBackend", "probe_hardware", "refresh_free_memory", "summary"]
