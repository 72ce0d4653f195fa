"""A hardware watch that reports a fixed machine, so GUI tests see known memory whatever runs them."""

from __future__ import annotations

from app.hardware import HardwareInfo
from app.ui.hardware_watch import HardwareWatch


class FixedHardware(HardwareWatch):
    def __init__(self, info: HardwareInfo) -> None:
        super().__init__()
        self._fixed = info

    @property
    def info(self) -> HardwareInfo:
        return self._fixed
