"""Probe the hardware once off the GUI thread, then keep free RAM/VRAM fresh."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.hardware import HardwareInfo
from app.ui.tasks import Task, TaskControl, run_task

REFRESH_MS = 10_000


class HardwareWatch(QObject):
    ready = Signal(object)  # HardwareInfo, first probe and every refresh
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._info: HardwareInfo | None = None
        self._task: Task | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    @property
    def info(self) -> HardwareInfo | None:
        return self._info

    def start(self) -> None:
        if self._info is None and self._task is None:
            self._run(_full_probe)

    def refresh(self) -> None:
        if self._info is not None and self._task is None:
            self._run(_refresh, self._info)

    def _run(self, fn: object, *args: object) -> None:
        task = run_task(fn, *args, name="hardware probe")  # type: ignore[arg-type]
        task.finished.connect(self._on_result)
        task.failed.connect(self._on_failed)
        self._task = task

    def _on_result(self, info: HardwareInfo) -> None:
        self._task = None
        self._info = info
        if not self._timer.isActive():
            self._timer.start()
        self.ready.emit(info)

    def _on_failed(self, error: BaseException) -> None:
        self._task = None
        self.failed.emit(f"Hardware probe failed: {error}")


def _full_probe(_control: TaskControl) -> HardwareInfo:
    from app.hardware.probe import probe_hardware

    return probe_hardware()


def _refresh(_control: TaskControl, info: HardwareInfo) -> HardwareInfo:
    from app.hardware.probe import refresh_free_memory

    return refresh_free_memory(info)
