"""The load panel: pick a model and its load settings, see the memory it will take before loading."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.chat.projector import projector_for
from app.chat.protocol import CACHE_TYPES, EngineSettings
from app.core.errors import AppError
from app.core.names import display_name
from app.core.units import format_bytes
from app.estimate.engine import engine_load_settings
from app.estimate.flash import NO_FLASH_ATTN
from app.estimate.view import MemoryView, ModelFile, memory_view, read_model_file
from app.remote.refs import REF_PREFIX as REMOTE_PREFIX
from app.ui.context import AppContext
from app.ui.tasks import Task, TaskControl, run_task

log = logging.getLogger("app.ui.chat")

CTX_STEP = 256
CTX_BEYOND_TRAINED = 2  # the slider reaches this many times the trained context (llama.cpp allows it, with a warning)
WARN_STYLE = "color: #c5221f;"
AUTO_TIP = ("The most GPU layers that fit in free VRAM (for a mixture-of-experts model: every layer, "
            "with the experts of as few layers as needed kept in RAM)")
PART_COLOURS = {"weights": QColor("#5b8def"), "KV cache": QColor("#f4a340"), "compute": QColor("#9c6ade"),
                "projector": QColor("#3fb950")}
OVER_COLOUR = QColor("#d93025")


def _read_model_file(_control: TaskControl, path: str) -> ModelFile:
    return read_model_file(path)


def _merged(view: MemoryView) -> list[tuple[str, int]]:
    """Each part's bytes over both devices, in the bar's order."""
    totals: dict[str, int] = {}
    for label, size in (*view.vram, *view.ram):
        totals[label] = totals.get(label, 0) + size
    return list(totals.items())


Row = tuple[str, tuple[tuple[str, int], ...], int]  # name, (part, bytes) in order, bytes free (0: unknown)


def paint_rows(widget: QWidget, rows: list[Row], label_w: int) -> None:
    """One bar per row: the parts as coloured segments against what is free, red when over."""
    painter = QPainter(widget)
    palette = widget.palette()
    text_colour = palette.color(QPalette.ColorRole.WindowText)
    row_h = (widget.height() - 2 * len(rows) - 2) / max(1, len(rows))
    for row, (name, parts, cap) in enumerate(rows):
        top = 2 + row * (row_h + 2)
        painter.setPen(text_colour)
        painter.drawText(QRectF(0, top, label_w, row_h), Qt.AlignmentFlag.AlignVCenter, name)
        track = QRectF(label_w, top, widget.width() - label_w - 2, row_h)
        track_colour = QColor(palette.color(QPalette.ColorRole.Mid))
        track_colour.setAlpha(90)
        painter.fillRect(track, track_colour)
        used = sum(b for _label, b in parts)
        scale = max(cap, used, 1)
        x = track.left()
        for label, size in parts:
            width = track.width() * size / scale
            colour = PART_COLOURS[label] if used <= cap or cap == 0 else OVER_COLOUR
            painter.fillRect(QRectF(x, top, width, row_h), colour)
            x += width
        caption = (
            f"{format_bytes(used)} of {format_bytes(cap)} free"
            if cap
            else (f"{format_bytes(used)}" if used else "none")
        )
        painter.setPen(text_colour)
        painter.drawText(
            track.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, caption
        )
    painter.end()


class DeviceBars(QWidget):
    """One bar per offload device of a pool (RPC workers' devices, then this machine's GPU): the weights and
    K/V cache of the layers it gets against the memory its probe reported free."""

    ROW_H = 22

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Row] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(360, max(1, len(self.rows)) * (self.ROW_H + 2) + 2)

    def set_rows(self, rows: list[Row], tips: list[str]) -> None:
        self.rows = rows
        self.setFixedHeight(self.sizeHint().height())
        self.setToolTip("\n".join(tips))
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        widest = max((self.fontMetrics().horizontalAdvance(name) for name, _p, _c in self.rows), default=0)
        paint_rows(self, self.rows, max(MemoryBar.LABEL_W, widest + 8))


class MemoryBar(QWidget):
    """Two rows (VRAM, RAM): weights, KV cache and compute as coloured segments against what is free."""

    LABEL_W = 46

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: MemoryView | None = None
        self.vram_name = "VRAM"  # "Pool" while RPC workers lend their devices
        self.setMinimumHeight(54)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(360, 54)

    def set_view(self, view: MemoryView | None) -> None:
        self.view = view
        tip = ""
        if view is not None:
            lines = [
                f"{dev}: " + ", ".join(f"{label} {format_bytes(b)}" for label, b in parts if b)
                for dev, parts in (("VRAM", view.vram), ("RAM", view.ram))
            ]
            tip = "\n".join([*lines, view.verdict])
        self.setToolTip(tip)
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        view = self.view
        paint_rows(self, [
            (self.vram_name, view.vram if view else (), view.vram_cap if view else 0),
            ("RAM", view.ram if view else (), view.ram_cap if view else 0),
        ], self.LABEL_W)


class LoadPanel(QWidget):
    loadRequested = Signal(str, object)  # path, EngineSettings
    cancelRequested = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self.model: ModelFile | None = None
        self._flash_asked = "auto"  # the user's flash-attention choice while a model cannot use it
        self._task: Task | None = None
        self._hardware: Any = None
        self._hardware_info: Any = None
        # The settings a model was loaded with last time (the page's memory); None: this panel's defaults.
        self.remembered: Callable[[str], EngineSettings | None] = lambda _path: None
        self._endpoints: tuple[str, ...] = ()  # RPC workers as listed (parsed)
        self._workers: tuple[Any, ...] = ()  # and as probed: app.remote.rpc_probe.RpcWorker
        self._probe_task: Task | None = None

        self.model_combo = QComboBox()
        self.model_combo.setPlaceholderText("Choose a model…")
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(24)
        self.browse_button = QPushButton("Browse…")
        self.ctx_slider = QSlider(Qt.Orientation.Horizontal)
        self.ctx_label = QLabel()
        self.ctx_label.setMinimumWidth(self.ctx_label.fontMetrics().horizontalAdvance("1,048,576 tokens"))
        self.ctx_warning = QLabel()
        self.ctx_warning.setStyleSheet(WARN_STYLE)
        self.offload_note = QLabel()  # why the GPU controls are off
        self.offload_note.setEnabled(False)
        self.ngl_slider = QSlider(Qt.Orientation.Horizontal)
        self.ngl_label = QLabel()
        self.auto_button = QPushButton("Auto")
        self.auto_button.setToolTip(AUTO_TIP)
        self.cpu_moe = QSpinBox()  # llama.cpp's --n-cpu-moe
        self.cpu_moe.setSpecialValueText("none")
        self.cpu_moe.setPrefix("experts of ")
        self.cpu_moe.setSuffix(" layers in RAM")
        self.cpu_moe.setToolTip(
            "Mixture-of-experts models: keep the expert weights of the first N layers in RAM (llama.cpp's "
            "--n-cpu-moe), so every layer's attention can stay on the GPU"
        )
        self.type_k = QComboBox()
        self.type_v = QComboBox()
        for combo in (self.type_k, self.type_v):
            combo.addItems(list(CACHE_TYPES))
        self.flash = QComboBox()
        self.flash.addItems(["auto", "on", "off"])
        # a vision model's projector (the mmproj beside it): images in chat, its memory in the estimate
        self.images = QCheckBox("With images")
        self._projector = ""
        self.threads = QSpinBox()
        self.threads.setRange(0, max(1, os.cpu_count() or 1))
        self.threads.setSpecialValueText("auto")
        self.workers_edit = QLineEdit()
        self.workers_edit.setPlaceholderText("host:port, … (optional: llama.cpp RPC workers on your own network)")
        self.workers_edit.setToolTip(
            "Machines running 'gguf-studio rpc-worker' lend their memory to this model: layers are split by "
            "each device's free memory. RPC has no authentication: use it only on a network you trust.")
        self.workers_note = QLabel()
        # One line each (a wrapped label in a form row takes a line more than its text); never widening the panel.
        for note in (self.ctx_warning, self.offload_note, self.workers_note):
            note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.devices = DeviceBars()
        self.memory = MemoryBar()
        self.verdict = QLabel()
        self.load_button = QPushButton("Load")
        self.load_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

        form = self._form = QFormLayout()
        picker = QHBoxLayout()
        picker.addWidget(self.model_combo, 1)
        picker.addWidget(self.browse_button)
        form.addRow("Model", picker)
        ctx_row = QHBoxLayout()
        ctx_row.addWidget(self.ctx_slider, 1)
        ctx_row.addWidget(self.ctx_label)
        form.addRow("Context", ctx_row)
        form.addRow("", self.ctx_warning)
        ngl_row = QHBoxLayout()
        ngl_row.addWidget(self.ngl_slider, 1)
        ngl_row.addWidget(self.ngl_label)
        ngl_row.addWidget(self.cpu_moe)
        ngl_row.addWidget(self.auto_button)
        form.addRow("GPU layers", ngl_row)
        form.addRow("", self.offload_note)
        form.addRow("RPC workers", self.workers_edit)
        form.addRow("", self.workers_note)
        kv_row = QHBoxLayout()
        kv_row.addWidget(QLabel("K"))
        kv_row.addWidget(self.type_k)
        kv_row.addWidget(QLabel("V"))
        kv_row.addWidget(self.type_v)
        kv_row.addSpacing(12)
        kv_row.addWidget(QLabel("Flash attention"))
        kv_row.addWidget(self.flash)
        kv_row.addSpacing(12)
        kv_row.addWidget(QLabel("Threads"))
        kv_row.addWidget(self.threads)
        kv_row.addStretch(1)
        form.addRow("KV cache", kv_row)
        form.addRow("Images", self.images)
        form.addRow("Memory", self.memory)
        form.addRow("", self.devices)
        form.addRow("", self.verdict)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addStretch(0)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(buttons)
        for row in (self.ctx_warning, self.offload_note, self.workers_note, self.devices):
            self._show_row(row, False)  # rows that take no room until they have something to say

        self.threads.setValue(self._preferred_threads())
        self._set_model_controls(None)
        self.model_combo.currentIndexChanged.connect(self._on_model_chosen)
        self.browse_button.clicked.connect(self._browse)
        for signal in (
            self.ctx_slider.valueChanged,
            self.ngl_slider.valueChanged,
            self.cpu_moe.valueChanged,
            self.type_k.currentIndexChanged,
            self.type_v.currentIndexChanged,
            self.flash.currentIndexChanged,
            self.threads.valueChanged,
            self.images.toggled,
        ):
            signal.connect(self.refresh_estimate)
        self.auto_button.clicked.connect(self.auto_layers)
        self.workers_edit.editingFinished.connect(self.check_workers)
        self.load_button.clicked.connect(self._request_load)
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        ctx.hardware.ready.connect(self._on_hardware)
        if ctx.hardware.info is not None:
            self._on_hardware(ctx.hardware.info)
        self._fill_library()
        self.fill_remote()

    # ------------------------------------------------------------------ models

    def _preferred_threads(self) -> int:
        return int(self._ctx.settings.values.threads)

    def _fill_library(self) -> None:
        """Models from the library folders (scanned off the GUI thread)."""
        folders = [self._ctx.settings.models_path(), *map(Path, self._ctx.settings.values.library_folders)]

        def scan(_control: TaskControl, roots: list[Path]) -> list[tuple[str, str]]:
            from app.library.scan import scan_library

            return [(entry.name, str(entry.path)) for entry in scan_library(roots) if entry.usable]

        self._library_task = run_task(scan, folders)
        self._library_task.finished.connect(self._on_library)
        self._library_task.failed.connect(lambda exc: log.warning("library scan failed: %s", exc))

    def _on_library(self, items: list[tuple[str, str]]) -> None:
        for name, path in items:
            self.add_model_path(path, name, select=False)

    def fill_remote(self) -> None:
        """Models of the remote endpoints (Settings ▸ Remote engines), listed off the GUI thread; an endpoint
        that does not answer is left out (its error is in the log)."""

        def listing(_control: TaskControl) -> list[tuple[str, str]]:
            from app.remote.endpoints import load_endpoints
            from app.remote.session import RemoteChat, remote_ref

            items = []
            for endpoint in load_endpoints():
                try:
                    with RemoteChat(endpoint, "") as chat:
                        items += [(f"{m.id} · {endpoint.name}", remote_ref(endpoint.name, m.id))
                                  for m in chat.models()]
                except AppError as exc:
                    log.warning("remote endpoint %s left out: %s", endpoint.name, exc)
            return items

        self._remote_task = run_task(listing)
        self._remote_task.finished.connect(self._on_remote)
        self._remote_task.failed.connect(lambda exc: log.warning("remote endpoints not listed: %s", exc))

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if getattr(self, "_remote_task", None) is not None:
            self.fill_remote()  # endpoints added in Settings since the last look

    def _on_remote(self, items: list[tuple[str, str]]) -> None:
        for name, ref in items:
            if self.model_combo.findData(ref) < 0:
                self.model_combo.addItem(name, ref)
                self.model_combo.setItemData(self.model_combo.count() - 1, f"remote: {ref}",
                                             Qt.ItemDataRole.ToolTipRole)

    def add_model_path(self, path: str, name: str | None = None, *, select: bool = True) -> None:
        index = self.model_combo.findData(path)
        if index < 0:
            self.model_combo.addItem(display_name(name or Path(path).name), path)
            self.model_combo.setItemData(self.model_combo.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
            index = self.model_combo.count() - 1
        if select:
            self.model_combo.setCurrentIndex(index)

    def _browse(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Choose a GGUF model", "", "GGUF models (*.gguf)")
        if path:
            self.add_model_path(path)

    def _on_model_chosen(self, index: int) -> None:
        path = self.model_combo.itemData(index)
        if not path:
            return
        if path.startswith(REMOTE_PREFIX):  # served elsewhere: no header to read, no memory here to plan
            self._set_model_controls(None)
            self.load_button.setEnabled(True)
            self.verdict.setText("A model of a remote endpoint: it runs on that server, with its settings.")
            return
        self._set_model_controls(None)
        self.verdict.setText("Reading the model header…")
        self._task = run_task(_read_model_file, path)
        self._task.finished.connect(self._on_model_read)
        self._task.failed.connect(lambda exc: self.verdict.setText(f"Cannot read this model: {exc}"))

    def _on_model_read(self, model: ModelFile) -> None:
        if model.path != self.model_combo.currentData():
            return  # the user picked another model meanwhile
        self._set_model_controls(model)

    def _set_model_controls(self, model: ModelFile | None) -> None:
        self.model = model
        self._set_projector(projector_for(model.path) if model is not None else "")
        enabled = model is not None
        for widget in (self.ctx_slider, self.ngl_slider, self.auto_button, self.load_button):
            widget.setEnabled(enabled)
        moe = model is not None and model.shape is not None and bool(model.shape.expert_bytes)
        self.cpu_moe.setEnabled(moe)
        self.cpu_moe.setVisible(moe)
        self.cpu_moe.setRange(0, model.n_layer if moe and model is not None else 0)
        self.cpu_moe.setValue(0)
        if model is None:
            self._offer_flash("")
            self.memory.set_view(None)
            self.devices.set_rows([], [])
            self._show_row(self.devices, False)
            self._update_offload()
            return
        top = max(1, -(-model.n_ctx_train // CTX_STEP))
        self.ctx_slider.setRange(1, top * CTX_BEYOND_TRAINED)
        self.ngl_slider.setRange(0, model.n_layer + 1)
        remembered = self.remembered(model.path)
        if remembered is not None:  # as it was loaded last time
            self.set_settings(remembered)
        else:
            self.ctx_slider.setValue(min(top, max(1, self._default_ctx() // CTX_STEP)))
            self.ngl_slider.setValue(0)
            if self.can_offload:
                self.auto_layers()
        self._offer_flash(model.shape.arch if model.shape is not None else "")
        self._update_offload()
        self.refresh_estimate()

    def _offer_flash(self, arch: str) -> None:
        """Flash attention off, and why, for a model llama.cpp cannot run with it (the engine turns it off
        too, app.estimate.flash); the user's choice back for the next model."""
        reason = NO_FLASH_ATTN.get(arch, "")
        if reason:
            if self.flash.isEnabled():
                self._flash_asked = self.flash.currentText()
            self.flash.setCurrentText("off")
        elif not self.flash.isEnabled():
            self.flash.setCurrentText(self._flash_asked)
        self.flash.setEnabled(not reason)
        self.flash.setToolTip(reason)

    def _default_ctx(self) -> int:
        return int(self._ctx.settings.values.default_context)

    # ------------------------------------------------------------------ settings and memory

    def settings(self) -> EngineSettings:
        model = self.model
        n_ctx = self.ctx_slider.value() * CTX_STEP
        ngl = self.ngl_slider.value() if self.can_offload else 0
        return EngineSettings(
            n_ctx=n_ctx,
            n_gpu_layers=-1 if model is not None and ngl > model.n_layer else ngl,
            type_k=self.type_k.currentText(),
            type_v=self.type_v.currentText(),
            flash_attn=self.flash.currentText(),  # type: ignore[arg-type]
            n_threads=self.threads.value(),
            n_cpu_moe=self.cpu_moe.value(),
            rpc_workers=self.worker_list(),
            mmproj=self._projector if self.images.isChecked() else "",
        )

    def set_settings(self, settings: EngineSettings) -> None:
        self.ctx_slider.setValue(max(1, settings.n_ctx // CTX_STEP))
        self.ngl_slider.setValue(self.ngl_slider.maximum() if settings.n_gpu_layers < 0 else settings.n_gpu_layers)
        self.type_k.setCurrentText(settings.type_k)
        self.type_v.setCurrentText(settings.type_v)
        self.flash.setCurrentText(settings.flash_attn)
        self.threads.setValue(settings.n_threads)
        self.cpu_moe.setValue(settings.n_cpu_moe)
        self.images.setChecked(bool(settings.mmproj) and bool(self._projector))
        listed = ", ".join(settings.rpc_workers)
        if listed != self.workers_edit.text():
            self.workers_edit.setText(listed)
            self.check_workers()

    def _on_hardware(self, info: Any) -> None:
        from app.estimate import spec_from_info

        self._hardware_info = info
        self._hardware = spec_from_info(info)
        self._update_offload()
        self.refresh_estimate()

    @property
    def can_offload(self) -> bool:
        """Layers can leave the CPU: a GPU this build can use, or RPC workers to take them."""
        return (self._hardware is not None and self._hardware.has_gpu) or bool(self.worker_list())

    def worker_list(self) -> tuple[str, ...]:
        """The listed workers that answered their probe (the engine is told about no other)."""
        return tuple(w.endpoint for w in self._workers)

    def check_workers(self) -> None:
        """Parses the workers field and probes each worker off the GUI thread (version, devices, memory)."""
        from app.remote.rpc_probe import parse_endpoints

        try:
            endpoints = tuple(parse_endpoints(self.workers_edit.text()))
        except AppError as exc:
            self._set_workers((), str(exc))
            return
        if endpoints == self._endpoints and (self._workers or not endpoints):
            return
        self._endpoints = endpoints
        if not endpoints:
            self._set_workers((), "")
            return
        self.load_button.setEnabled(False)  # until the pool is known: Load must not go without it
        self.workers_note.setText(f"Asking {len(endpoints)} worker(s)…")
        self.workers_note.setStyleSheet("")
        self._show_row(self.workers_note, True)

        def probe(_control: TaskControl, listed: tuple[str, ...]) -> tuple[tuple[str, ...], list[Any]]:
            from app.remote.rpc_probe import probe_all

            return listed, probe_all(listed)

        self._probe_task = run_task(probe, endpoints)
        self._probe_task.finished.connect(self._on_probed)
        self._probe_task.failed.connect(lambda exc: self._set_workers((), str(exc)))

    def _on_probed(self, result: tuple[tuple[str, ...], list[Any]]) -> None:
        listed, workers = result
        if listed != self._endpoints:
            return  # the list changed meanwhile
        devices = sum(len(w.devices) for w in workers)
        free = sum(d.free for w in workers for d in w.devices)
        self._set_workers(tuple(workers),
                          f"{len(workers)} worker(s), {devices} device(s), {format_bytes(free)} free in all. "
                          "RPC has no authentication: use it only on a network you trust.", error=False)

    def _set_workers(self, workers: tuple[Any, ...], note: str, *, error: bool = True) -> None:
        had = bool(self._workers)
        self._workers = workers
        if not workers and error:
            self._endpoints = ()
        self.workers_note.setText(note)
        self.workers_note.setStyleSheet(WARN_STYLE if error and note else "")
        self._show_row(self.workers_note, bool(note))
        self._update_offload()
        if workers and not had and self.model is not None:
            self.auto_layers()  # the layers go to the pool, as far as it holds them
        self.load_button.setEnabled(self.model is not None)
        self.refresh_estimate()

    def pool_hardware(self) -> Any:
        """This machine with the workers' devices counted as GPU memory (llama.cpp offloads to them alike)."""
        hardware = self._hardware
        if not self._workers:
            return hardware
        if hardware is None:  # this machine not probed yet: the pool's devices are known all the same
            from app.estimate import HardwareSpec

            hardware = HardwareSpec(ram_total=0, ram_available=0)
        free = sum(d.free for w in self._workers for d in w.devices)
        total = sum(d.total for w in self._workers for d in w.devices)
        local = hardware.vram_free if hardware.has_gpu else 0
        return dataclasses.replace(hardware, gpu_offload_supported=True, vram_free=free + local,
                                   vram_total=total + (hardware.vram_total if hardware.has_gpu else 0))

    def device_rows(self, settings: EngineSettings) -> tuple[list[Row], list[str]]:
        """Per-device bars: each worker device (in llama.cpp's order), then this machine's GPU."""
        model = self.model
        if not self._workers or model is None or model.shape is None:
            return [], []
        from app.estimate.split import device_shares
        from app.remote.pool import plan_split

        named = [(f"RPC{i}", f"{w.endpoint} #{d.index}", d.free)
                 for i, (w, d) in enumerate((w, d) for w in self._workers for d in w.devices)]
        hardware = self._hardware
        if hardware is not None and hardware.has_gpu:
            named.append(("GPU", "this machine", hardware.vram_free))
        split = plan_split([free for _n, _where, free in named])
        shares = device_shares(model.shape, engine_load_settings(settings), split)
        rows: list[Row] = []
        tips: list[str] = []
        for (name, where, free), share in zip(named, shares, strict=True):
            kv = share.kv_full + share.kv_swa
            rows.append((name, (("weights", share.weights), ("KV cache", kv)), free))
            tips.append(f"{name} ({where}): {len(share.layers)} layers, weights {format_bytes(share.weights)}, "
                        f"KV cache {format_bytes(kv)}, {format_bytes(free)} free")
        return rows, tips

    def offload_reason(self) -> str:
        """Why layers cannot be offloaded, in words ("" when they can)."""
        if self.can_offload:
            return ""
        info = self._hardware_info
        if info is None:
            return "Checking this machine for a GPU…"
        if info.llama is not None and not info.llama.gpu_offload:
            why = "this llama.cpp build is CPU-only"
        elif not info.gpus:
            why = "no GPU was found on this machine"
        else:
            why = "the GPU has no free memory"
        return f"Every layer runs on the CPU: {why}, and no RPC workers are listed."

    def _update_offload(self) -> None:
        reason = self.offload_reason()
        model_ok = self.model is not None
        for widget, tip in ((self.ngl_slider, ""), (self.auto_button, AUTO_TIP)):
            widget.setEnabled(model_ok and not reason)
            widget.setToolTip(reason or tip)
        self.offload_note.setText(reason)
        self._show_row(self.offload_note, bool(reason) and model_ok)

    def _set_projector(self, path: str) -> None:
        """The projector beside the chosen model: the switch shows, on, only when there is one."""
        self._projector = path
        self.images.setChecked(bool(path))
        media = _media_words(path)  # what the projector takes: an audio model's switch says "With audio"
        self.images.setText(f"With {media}")
        self.images.setToolTip(f"Load {Path(path).name} too: attach {media} in the chat" if path else "")
        self._show_row(self.images, bool(path))

    def _show_row(self, widget: QWidget, visible: bool) -> None:
        if isinstance(widget, QLabel):
            widget.setToolTip(widget.text())  # the whole text where a narrow window cuts it
        self._form.setRowVisible(widget, visible)

    def auto_layers(self) -> None:
        model = self.model
        if model is None or model.shape is None:
            return
        hardware = self.pool_hardware()
        if hardware is None or not hardware.has_gpu:
            self.ngl_slider.setValue(0)
            return
        from app.estimate import plan_cpu_moe, plan_gpu_layers

        try:
            load = engine_load_settings(dataclasses.replace(self.settings(), n_cpu_moe=0))
            n = plan_gpu_layers(model.shape, load, hardware.vram_free)
            experts = None if n > model.n_layer else plan_cpu_moe(model.shape, load, hardware)
        except AppError as exc:
            self.verdict.setText(str(exc))
            return
        if experts is not None:  # every layer on the GPU, the experts of the first few in RAM
            n = model.n_layer + 1
        self.cpu_moe.setValue(experts or 0)
        self.ngl_slider.setValue(self.ngl_slider.maximum() if n < 0 else n)

    def refresh_estimate(self) -> None:
        settings = self.settings()
        self.ctx_label.setText(f"{settings.n_ctx:,} tokens")
        model = self.model
        beyond = model is not None and settings.n_ctx > model.n_ctx_train > 0
        self._show_row(self.ctx_warning, beyond)
        if model is not None and beyond:
            self.ctx_warning.setText(
                f"Longer than the {model.n_ctx_train:,} tokens this model was trained on: past that length "
                "its replies are likely to degrade.")
        n_layers = model.n_layer + 1 if model else 0
        ngl = self.ngl_slider.value() if self.can_offload else 0
        self.ngl_label.setText("CPU only" if model and not self.can_offload else
                               f"{ngl} of {n_layers}" + (" (all)" if model and ngl >= n_layers else ""))
        if model is None:
            return
        if model.shape is None:
            self.memory.set_view(None)
            self.verdict.setText(f"No memory estimate for this model: {model.shape_error}")
            return
        try:
            view = memory_view(model, settings, self.pool_hardware())
            self.memory.vram_name = "Pool" if self._workers else "VRAM"
            self.devices.set_rows(*self.device_rows(settings))
            self._show_row(self.devices, bool(self.devices.rows))
        except AppError as exc:
            self.memory.set_view(None)
            self.devices.set_rows([], [])
            self._show_row(self.devices, False)
            self.verdict.setText(str(exc))
            self.load_button.setEnabled(False)
            return
        self.memory.set_view(view)
        total = sum(b for _l, b in view.vram) + sum(b for _l, b in view.ram)
        legend = " ".join(
            f'<span style="color:{PART_COLOURS[label].name()}">■</span> {label} {format_bytes(size)}'
            for label, size in _merged(view)
            if size
        )
        self.verdict.setText(f"{legend} — <b>{format_bytes(total)}</b> in all: {view.verdict}")
        self.load_button.setEnabled(True)

    # ------------------------------------------------------------------ loading

    def _request_load(self) -> None:
        chosen = self.model_combo.currentData()
        if isinstance(chosen, str) and chosen.startswith(REMOTE_PREFIX):
            self.loadRequested.emit(chosen, self.settings())
        elif self.model is not None:
            self.loadRequested.emit(self.model.path, self.settings())

    def set_loading(self, loading: bool, fraction: float = 0.0) -> None:
        self.progress.setVisible(loading)
        self.cancel_button.setVisible(loading)
        self.load_button.setEnabled(not loading and self.model is not None)
        self.progress.setValue(int(fraction * 100))


def _media_words(projector: str) -> str:
    from app.chat.projector import projector_info
    from app.core.errors import AppError

    try:
        info = projector_info(projector) if projector else None
    except AppError:
        info = None
    if info is not None and info.audio:
        return "images and audio" if info.vision else "audio"
    return "images"
