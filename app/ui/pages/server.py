"""The Server page: the library as an OpenAI- and Anthropic-compatible API (app.server), and this machine as a
llama.cpp RPC worker (app.remote.worker).

The server runs on its own thread (app.server.runner.ServerThread: uvicorn, engines in child processes);
starting and stopping it, and the worker, happen in tasks, never on the GUI thread. While it serves, the
page reads the scheduler's loaded models and finished requests once a second.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError
from app.core.units import format_bytes
from app.ui.context import AppContext
from app.ui.tasks import Task, TaskControl, run_task
from app.ui.widgets.page_header import PAGE_MARGINS, page_subtitle, page_title

REFRESH_MS = 1000
LOG_ROWS = 200
LAN_HOST = "0.0.0.0"
LOCAL_HOST = "127.0.0.1"


# A model too large for the server, said with the controls of this page and of Settings (the server has no
# memory limit here: it may use the memory free when it starts).
GUI_BUDGET_ADVICE = {
    "ram": "lower Parallel requests on the Server page or the Default context length in Settings ▸ Performance, "
           "or free memory and start the server again",
    "gpu": "lower Parallel requests on the Server page or the Default context length in Settings ▸ Performance",
}


def _start_server(_control: TaskControl, config: Any, hardware: Any) -> Any:
    import time

    from app.estimate.hardware import probe_spec, spec_from_info
    from app.hardware.probe import refresh_free_memory
    from app.server.runner import ServerThread, make_state

    measured_at = time.monotonic()  # the budget is the memory free now, the Chat page's own engine excluded
    spec = spec_from_info(refresh_free_memory(hardware)) if hardware is not None else probe_spec()
    server = ServerThread(make_state(config, spec, measured_at))
    server.start()
    return server


def _stop(_control: TaskControl, thing: Any) -> None:
    thing.stop()


def _start_worker(_control: TaskControl, host: str, port: int) -> Any:
    from app.remote.worker import WorkerProcess

    worker = WorkerProcess(host, port)
    return worker, worker.start()


class ServerPage(QWidget):
    server_changed = Signal(bool)  # serving or not, after every start or stop
    worker_changed = Signal(bool)
    refreshed = Signal()  # the loaded models and the request log were read again

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.server: Any = None  # app.server.runner.ServerThread while serving
        self.worker: Any = None  # app.remote.worker.WorkerProcess while it runs
        self._task: Task | None = None
        self._worker_task: Task | None = None
        self._seen = 0  # requests of the scheduler already in the log
        self._busy_text = ""  # "Starting…" or "Stopping…" while a task does it
        self._closed = False  # the window closed: what a task still starts is stopped at once
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PAGE_MARGINS)
        layout.addWidget(page_title("Server"))
        layout.addWidget(page_subtitle("Your library as an OpenAI- and Anthropic-compatible API for editors, agents "
                                       "and chat front-ends; models load on demand and share memory by exact bytes."))
        top = QHBoxLayout()
        top.addWidget(self._server_box(), 3)
        top.addWidget(self._workers_box(), 2)
        layout.addLayout(top)
        layout.addWidget(QLabel("Loaded models"))
        self.models = self._table(["Model", "RAM", "VRAM", "State"])
        self.models.setMaximumHeight(130)
        layout.addWidget(self.models)
        layout.addWidget(QLabel("Requests"))
        self.requests = self._table(["Time", "Model", "Prompt", "Generated", "Speed", "End"])
        layout.addWidget(self.requests, 1)
        self._update_state()
        if ctx.settings.values.server_autostart:
            QTimer.singleShot(0, self.start)

    # ------------------------------------------------------------------ building

    def _server_box(self) -> QGroupBox:
        values = self.ctx.settings.values
        from app.server.keyfile import load_key

        box = QGroupBox("API server")
        self.state_label = QLabel()
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_label.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.toggle)
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(values.server_port)
        self.lan = QCheckBox("Reachable from other machines (needs a key)")
        self.lan.setChecked(values.server_lan)
        self.key = QLineEdit(load_key() or "")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("none (this machine only)")
        self.new_key_button = QPushButton("New key")
        self.new_key_button.clicked.connect(self._new_key)
        self.show_key = QCheckBox("Show")
        self.show_key.toggled.connect(lambda on: self.key.setEchoMode(
            QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password))
        self.parallel = QSpinBox()
        self.parallel.setRange(1, 16)
        self.parallel.setValue(values.server_parallel)
        for spin in (self.port, self.parallel):
            spin.setMaximumWidth(110)
        self.parallel.setToolTip("Requests one model answers at once; each has the full context (and its cache)")
        self.autostart = QCheckBox("Start the server with the app")
        self.autostart.setChecked(values.server_autostart)
        self.autostart.toggled.connect(lambda on: self.ctx.settings.update(server_autostart=on))

        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        key_row.addWidget(self.show_key)
        key_row.addWidget(self.new_key_button)
        form = QFormLayout()
        form.addRow("Port", self.port)
        form.addRow("", self.lan)
        form.addRow("API key", key_row)
        form.addRow("Parallel requests", self.parallel)
        form.addRow("", self.autostart)
        head = QHBoxLayout()
        head.addWidget(self.state_label, 1)
        head.addWidget(self.start_button)
        inner = QVBoxLayout(box)
        inner.addLayout(head)
        inner.addLayout(form)
        return box

    def _workers_box(self) -> QGroupBox:
        from app.remote.rpc_probe import DEFAULT_PORT
        from app.remote.worker import SECURITY_WARNING

        box = QGroupBox("Workers (llama.cpp RPC)")
        self.worker_label = QLabel()
        self.worker_label.setWordWrap(True)
        self.worker_button = QPushButton("Start worker")
        self.worker_button.clicked.connect(self.toggle_worker)
        self.worker_port = QSpinBox()
        self.worker_port.setRange(1, 65535)
        self.worker_port.setValue(DEFAULT_PORT)
        self.worker_port.setMaximumWidth(110)
        self.worker_lan = QCheckBox("Reachable from other machines")
        warning = SECURITY_WARNING.removeprefix("warning: ")
        self.worker_warning = QLabel("⚠ " + warning[:1].upper() + warning[1:])
        self.worker_warning.setWordWrap(True)
        self.worker_warning.setStyleSheet("color: #b35c00;")
        self.worker_warning.setVisible(False)
        self.worker_lan.toggled.connect(self.worker_warning.setVisible)
        form = QFormLayout()
        form.addRow("Port", self.worker_port)
        form.addRow("", self.worker_lan)
        head = QHBoxLayout()
        head.addWidget(self.worker_label, 1)
        head.addWidget(self.worker_button)
        inner = QVBoxLayout(box)
        lend = QLabel("Lend this machine's CPU or GPU to a model loaded on another machine "
                      "(Chat ▸ load with RPC workers).")
        lend.setWordWrap(True)
        inner.addWidget(lend)
        inner.addLayout(head)
        inner.addLayout(form)
        inner.addWidget(self.worker_warning)
        inner.addStretch(1)
        self._update_worker_state()
        return box

    @staticmethod
    def _table(headers: list[str]) -> QTableWidget:
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1 if headers[0] == "Time" else 0, QHeaderView.ResizeMode.Stretch)
        return table

    # ------------------------------------------------------------------ the server

    @property
    def serving(self) -> bool:
        return self.server is not None

    def toggle(self) -> None:
        if self.serving:
            self.stop()
        else:
            self.start()

    def config(self) -> Any:
        """The ServerConfig of the form (raises ConfigError: a LAN address without a key)."""
        from app.estimate.engine import engine_settings
        from app.server.config import GUI_ENGINE_NICE, BudgetAdvice, ServerConfig

        key = self.key.text().strip() or None
        engine = engine_settings(self.ctx.settings.values, n_parallel=self.parallel.value())
        return ServerConfig(host=LAN_HOST if self.lan.isChecked() else LOCAL_HOST, port=self.port.value(),
                            api_key=key, engine=engine, engine_nice=GUI_ENGINE_NICE,
                            budget_advice=BudgetAdvice(**GUI_BUDGET_ADVICE))

    def start(self) -> None:
        if self.serving or self._task is not None:
            return
        from app.server.keyfile import save_key

        try:
            config = self.config()
            save_key(config.api_key)
        except (AppError, OSError) as exc:
            self._show_error(str(exc) + (f" ({exc.hint})" if isinstance(exc, AppError) and exc.hint else ""))
            return
        self.ctx.settings.update(server_port=self.port.value(), server_lan=self.lan.isChecked(),
                                 server_parallel=self.parallel.value())
        self._busy_text = "Starting…"
        self._task = run_task(_start_server, config, self.ctx.hardware.info, name="start the API server")
        self._task.finished.connect(self._started)
        self._task.failed.connect(self._start_failed)
        self._update_state()

    def _started(self, server: Any) -> None:
        self._task = None
        if self._closed:
            server.stop()
            return
        self.server = server
        self._seen = server.state.scheduler.served
        self._timer.start()
        self._update_state()
        self.ctx.local_server.started(server)  # the Chat page shares its engines from now on
        self.server_changed.emit(True)

    def _start_failed(self, error: object) -> None:
        self._task = None
        self._update_state()
        self._show_error(f"The server did not start: {error}")

    def stop(self) -> None:
        if not self.serving or self._task is not None:
            return
        server, self.server = self.server, None
        self._timer.stop()
        self.ctx.local_server.stop_announced()  # a chat on its engines ends before they do
        self._busy_text = "Stopping…"
        self._task = run_task(_stop, server, name="stop the API server")
        self._task.finished.connect(self._stopped)
        self._task.failed.connect(self._stopped)
        self._update_state()

    def _stopped(self, _result: object = None) -> None:
        self._task = None
        self.models.setRowCount(0)
        self._update_state()
        self.server_changed.emit(False)

    def _new_key(self) -> None:
        from app.server.keyfile import new_key

        self.key.setText(new_key())

    def _show_error(self, text: str) -> None:
        self.state_label.setText(text)
        self.ctx.messages.error(text, page="server")

    def _update_state(self) -> None:
        busy = self._task is not None
        if self.server is not None:
            config = self.server.state.config
            shown = "this machine's address" if config.host == LAN_HOST else config.host
            self.state_label.setText(f"Serving at http://{LOCAL_HOST}:{self.server.port}/v1 "
                                     f"(others: http://{shown}:{self.server.port}/v1)"
                                     if config.host == LAN_HOST else f"Serving at {self.server.base_url}/v1")
        elif busy:
            self.state_label.setText(self._busy_text)
        else:
            self.state_label.setText("Stopped")
        self.start_button.setText("Stop" if self.serving else "Start")
        self.start_button.setEnabled(not busy)
        for widget in (self.port, self.lan, self.key, self.new_key_button, self.parallel):
            widget.setEnabled(not self.serving and not busy)

    # ------------------------------------------------------------------ live view

    def refresh(self) -> None:
        server = self.server
        if server is None:
            return
        scheduler = server.state.scheduler
        loaded = scheduler.loaded()
        self.models.setRowCount(len(loaded))
        for row, model in enumerate(loaded):
            state = "answering" if model.busy else f"idle {model.idle_seconds:.0f} s"
            for col, text in enumerate((model.id, format_bytes(model.ram), format_bytes(model.vram) if model.vram
                                        else "—", state)):
                self.models.setItem(row, col, QTableWidgetItem(text))
        new = scheduler.served - self._seen
        self._seen = scheduler.served
        if new > 0:
            for record in list(scheduler.history)[-min(new, LOG_ROWS):]:
                self._log(record)
        self.refreshed.emit()

    def _log(self, record: Any) -> None:
        self.requests.insertRow(0)
        model = f"{record.model_id} (Chat page)" if record.source == "chat" else record.model_id
        failed = record.finish_reason == "error"
        end = f"error {record.status}" if failed else record.finish_reason
        speed = "—" if failed else f"{record.tokens_per_second:.1f} tok/s"
        prompt = "—" if failed and not record.prompt_tokens else str(record.prompt_tokens)  # died before a token
        cells = (time.strftime("%H:%M:%S", time.localtime(record.at)), model, prompt,
                 str(record.generated_tokens), speed, end)
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if failed:  # what the client was told, on every cell of the row
                item.setToolTip(record.error)
            if col >= 2:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.requests.setItem(0, col, item)
        while self.requests.rowCount() > LOG_ROWS:
            self.requests.removeRow(self.requests.rowCount() - 1)

    # ------------------------------------------------------------------ the RPC worker

    def toggle_worker(self) -> None:
        if self._worker_task is not None:
            return
        if self.worker is not None:
            worker, self.worker = self.worker, None
            self._worker_task = run_task(_stop, worker, name="stop the RPC worker")
            self._worker_task.finished.connect(self._worker_stopped)
            self._worker_task.failed.connect(self._worker_stopped)
        else:
            from app.remote.worker import check_host

            host = LAN_HOST if self.worker_lan.isChecked() else LOCAL_HOST
            check_host(host, self.worker_lan.isChecked())
            self._worker_task = run_task(_start_worker, host, self.worker_port.value(), name="start the RPC worker")
            self._worker_task.finished.connect(self._worker_started)
            self._worker_task.failed.connect(self._worker_failed)
        self._update_worker_state()

    def _worker_started(self, result: Any) -> None:
        self._worker_task = None
        self.worker, probe = result
        if self._closed:
            self.worker.stop()
            return
        devices = ", ".join(f"device {d.index}: {format_bytes(d.free)} free of {format_bytes(d.total)}"
                            for d in probe.devices)
        self._update_worker_state(f"Serving at {self.worker.endpoint} ({devices})")
        self.worker_changed.emit(True)

    def _worker_failed(self, error: object) -> None:
        self._worker_task = None
        self._update_worker_state(f"The worker did not start: {error}")
        self.ctx.messages.error(f"The RPC worker did not start: {error}", page="server")

    def _worker_stopped(self, _result: object = None) -> None:
        self._worker_task = None
        self._update_worker_state()
        self.worker_changed.emit(False)

    def _update_worker_state(self, text: str | None = None) -> None:
        busy = self._worker_task is not None
        if text is None:
            text = "Starting…" if busy and self.worker is None else "Not running"
        self.worker_label.setText(text)
        self.worker_button.setText("Stop worker" if self.worker is not None else "Start worker")
        self.worker_button.setEnabled(not busy)
        self.worker_port.setEnabled(self.worker is None and not busy)
        self.worker_lan.setEnabled(self.worker is None and not busy)

    # ------------------------------------------------------------------ the window closes

    def shutdown(self) -> None:
        """Stops the server (its engines) and the worker; blocks until they are gone."""
        self._closed = True
        self._timer.stop()
        server, self.server = self.server, None
        if server is not None:
            self.ctx.local_server.stop_announced()
            server.stop()
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop()
