"""RAM, VRAM and llama.cpp backend of this machine.

The probe functions load psutil and friends on first use: importing the value types stays cheap for the GUI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.hardware.info import GpuInfo, HardwareInfo, LlamaBackend

if TYPE_CHECKING:
    from app.hardware.probe import probe_hardware, refresh_free_memory, summary

__all__ = ["GpuInfo", "HardwareInfo", "LlamaBackend", "probe_hardware", "refresh_free_memory", "summary"]

_PROBE_NAMES = {"probe_hardware", "refresh_free_memory", "summary"}


def __getattr__(name: str) -> Any:
    if name in _PROBE_NAMES:
        from app.hardware import probe

        return getattr(probe, name)
    raise AttributeError(f"module 'app.hardware' has no attribute {name!r}")
