"""Running quantize jobs for the Quantize page: a Qt wrapper over a job process, and the job list model."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, Signal

from app.core.errors import Cancelled
from app.core.units import format_duration
from app.quantize import events as ev
from app.quantize.pipeline import QuantizeSpec
from app.quantize.runner import JobProcess
from app.ui.models.table import Index, RowTableModel

COL_SOURCE, COL_TARGETS, COL_STAGE, COL_PROGRESS, COL_ETA, COL_STATUS = range(6)
HEADERS = ("Source", "Targets", "Stage", "Progress", "ETA", "Status")
POLL_MS = 100
MAX_LOG_LINES = 2000

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    spec: QuantizeSpec
    stage: str = "starting"
    fraction: float = 0.0
    eta_s: float | None = None
    status: str = "running"  # running, done, failed, cancelled
    message: str = ""
    outputs: tuple[ev.Output, ...] = ()
    warnings: tuple[str, ...] = ()
    log: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.status == "running"


class JobRun(QObject):
    """Polls one job process from the GUI thread; the process does the work, so the window stays responsive."""

    job_event = Signal(object)
    ended = Signal(object)  # the terminal event: Finished or Failed

    def __init__(self, spec: QuantizeSpec, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process = JobProcess("app.workers.quantize_job", spec)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        self.process.start()
        self._timer.start()

    def cancel(self) -> None:
        if self.process.finished:
            return
        self._timer.stop()
        self.process.cancel()
        self.ended.emit(ev.Failed(Cancelled("cancelled")))

    def _poll(self) -> None:
        for e in self.process.poll(0.0):
            if isinstance(e, (ev.Finished, ev.Failed)):
                self._timer.stop()
                self.ended.emit(e)
                return
            self.job_event.emit(e)


class JobsModel(RowTableModel):
    columns = HEADERS

    job_ended = Signal(object)  # JobRow, once, when a job is done, failed or cancelled

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []
        self._runs: dict[int, JobRun] = {}

    # ---- jobs ------------------------------------------------------------------------------------------
    def start(self, spec: QuantizeSpec) -> int:
        job_id = next(_ids)
        run = JobRun(spec, self)
        run.job_event.connect(lambda e, job_id=job_id: self._on_event(job_id, e))
        run.ended.connect(lambda e, job_id=job_id: self._on_end(job_id, e))
        self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows))
        self._rows.append(JobRow(job_id, spec))
        self._runs[job_id] = run
        self.endInsertRows()
        run.start()
        return job_id

    def cancel(self, job_id: int) -> None:
        run = self._runs.get(job_id)
        if run is not None:
            run.cancel()

    def cancel_all(self) -> None:
        for job_id in list(self._runs):
            self.cancel(job_id)

    def job(self, row: int) -> JobRow:
        return self._rows[row]

    def row_of(self, job_id: int) -> int:
        return next(i for i, r in enumerate(self._rows) if r.id == job_id)

    def _update(self, job_id: int, **changes: Any) -> JobRow:
        row = self.row_of(job_id)
        self._rows[row] = dataclasses.replace(self._rows[row], **changes)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
        return self._rows[row]

    def _on_event(self, job_id: int, e: ev.Event) -> None:
        job = self._rows[self.row_of(job_id)]
        if isinstance(e, ev.Stage):
            self._update(job_id, stage=f"{e.name} ({e.index}/{e.count})", fraction=0.0, eta_s=None)
        elif isinstance(e, ev.Progress):
            self._update(job_id, fraction=e.fraction, eta_s=e.eta_s)
        elif isinstance(e, ev.Warning_):
            self._update(job_id, warnings=(*job.warnings, e.message), log=_append(job.log, f"warning: {e.message}"))
        elif isinstance(e, ev.Log):
            self._update(job_id, log=_append(job.log, e.line))
        elif isinstance(e, ev.Planned):
            self._update(job_id, log=_append(job.log, f"{e.type_name}: about {e.size_bytes / 2**20:.1f} MiB"))
        elif isinstance(e, ev.Output):
            self._update(job_id, outputs=(*job.outputs, e))

    def _on_end(self, job_id: int, e: ev.Event) -> None:
        self._runs.pop(job_id, None)
        if isinstance(e, ev.Finished):
            self._update(job_id, status="done", fraction=1.0, eta_s=None, outputs=e.outputs, stage="finished")
        elif isinstance(e, ev.Failed):
            status = "cancelled" if isinstance(e.error, Cancelled) else "failed"
            self._update(job_id, status=status, eta_s=None, message=e.message)
        self.job_ended.emit(self._rows[self.row_of(job_id)])

    # ---- model -----------------------------------------------------------------------------------------
    def row_count(self) -> int:
        return len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.has_row(index):
            return None
        job = self._rows[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return job
        if role == Qt.ItemDataRole.ToolTipRole and job.message:
            return job.message
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        col = index.column()
        if col == COL_SOURCE:
            return job.spec.source.name
        if col == COL_TARGETS:
            return ", ".join(job.spec.targets)
        if col == COL_STAGE:
            return job.stage
        if col == COL_PROGRESS:
            return f"{100 * job.fraction:.0f}%"
        if col == COL_ETA:
            return format_duration(job.eta_s) if job.eta_s is not None and job.active else ""
        if col == COL_STATUS:
            return job.status
        return None


def _append(log: tuple[str, ...], line: str) -> tuple[str, ...]:
    return (*log[-(MAX_LOG_LINES - 1) :], line)
