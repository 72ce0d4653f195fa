"""Quantize: a Hugging Face model (Hub repo, local folder) or a GGUF to any llama.cpp quant, in worker processes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError, QuantizeError
from app.core.units import format_bytes
from app.quantize.pipeline import QuantizeSpec
from app.quantize.quantizer import QuantizeOptions
from app.quantize.runner import cpu_threads
from app.ui.context import AppContext
from app.ui.models.quantize_jobs import JobRow, JobsModel
from app.ui.models.quantize_targets import TargetsModel
from app.ui.pages.quantize_plan import SourcePlan, plan_source
from app.ui.tasks import Task, run_task

log = logging.getLogger("app.ui.quantize")

IMATRIX_AUTO, IMATRIX_TEXT, IMATRIX_FILE = range(3)
# ggml types a tensor can be given explicitly (quantized ones llama.cpp can write, and the float types).
TENSOR_TYPES = (
    "Q8_0",
    "Q6_K",
    "Q5_K",
    "Q4_K",
    "Q3_K",
    "Q2_K",
    "Q5_0",
    "Q4_0",
    "IQ4_NL",
    "IQ4_XS",
    "F16",
    "BF16",
    "F32",
)


class QuantizePage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._task: Task | None = None
        self._fetch: Task | None = None
        self.plan: SourcePlan | None = None

        title = QLabel("Quantize")
        title.setObjectName("PageTitle")

        # source --------------------------------------------------------------------------------------------
        self.source = QLineEdit()
        self.source.setPlaceholderText("Hub repo id (owner/name), a model folder, or a .gguf file")
        self.source.returnPressed.connect(self.load_source)
        folder_btn = QPushButton("Folder…")
        folder_btn.clicked.connect(self._pick_folder)
        gguf_btn = QPushButton("GGUF…")
        gguf_btn.clicked.connect(self._pick_gguf)
        self.load_btn = QPushButton("Load")
        self.load_btn.clicked.connect(self.load_source)
        row = QHBoxLayout()
        for w in (self.source, folder_btn, gguf_btn, self.load_btn):
            row.addWidget(w, 1 if w is self.source else 0)
        self.source_info = QLabel("Choose a model to quantize.")
        self.source_info.setWordWrap(True)
        source_box = QGroupBox("Source")
        source_layout = QVBoxLayout(source_box)
        source_layout.addLayout(row)
        source_layout.addWidget(self.source_info)

        # targets ---------------------------------------------------------------------------------------------
        self.targets = TargetsModel(self)
        self.targets_view = QTableView()
        self.targets_view.setModel(self.targets)
        self.targets_view.verticalHeader().hide()
        self.targets_view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.targets_view.horizontalHeader()
        for col in range(3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        targets_box = QGroupBox("Targets")
        QVBoxLayout(targets_box).addWidget(self.targets_view)

        # options ---------------------------------------------------------------------------------------------
        self.imatrix_mode = QComboBox()
        self.imatrix_mode.addItems(
            ["Compute when a type needs it (built-in text)", "Compute from a text file…", "Use an imatrix file…"]
        )
        self.imatrix_path = QLineEdit()
        self.imatrix_path.setPlaceholderText("calibration text or imatrix file")
        imatrix_browse = QPushButton("Browse…")
        imatrix_browse.clicked.connect(self._pick_imatrix)
        imatrix_row = QHBoxLayout()
        imatrix_row.addWidget(self.imatrix_mode)
        imatrix_row.addWidget(self.imatrix_path, 1)
        imatrix_row.addWidget(imatrix_browse)
        self.quality = QCheckBox("Score each quant against its source (KL divergence, top-1 agreement)")
        self.pure = QCheckBox("Pure: every weight in the target type")
        self.output_type = QComboBox()
        self.embedding_type = QComboBox()
        for combo in (self.output_type, self.embedding_type):
            combo.addItems(["auto", *TENSOR_TYPES])
        self.overrides = QLineEdit()
        self.overrides.setPlaceholderText("per-tensor types, e.g. ffn_down=Q6_K; attn_v=Q8_0 (regex=TYPE)")
        advanced = QHBoxLayout()
        advanced.addWidget(QLabel("output.weight"))
        advanced.addWidget(self.output_type)
        advanced.addWidget(QLabel("token embeddings"))
        advanced.addWidget(self.embedding_type)
        advanced.addWidget(self.overrides, 1)
        self.out_dir = QLineEdit()
        self.out_dir.setPlaceholderText("beside the source")
        self.start_btn = QPushButton("Quantize")
        self.start_btn.setObjectName("PrimaryButton")
        self.start_btn.clicked.connect(self.start)
        options_box = QGroupBox("Options")
        form = QFormLayout(options_box)
        form.addRow("Importance matrix", imatrix_row)
        form.addRow("", self.quality)
        form.addRow("", self.pure)
        form.addRow("Tensor types", advanced)
        form.addRow("Output folder", self.out_dir)
        form.addRow("", self.start_btn)

        # jobs ------------------------------------------------------------------------------------------------
        self.jobs = JobsModel(self)
        self.jobs_view = QTableView()
        self.jobs_view.setModel(self.jobs)
        self.jobs_view.verticalHeader().hide()
        self.jobs_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.jobs_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.jobs_view.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.jobs_view.selectionModel().currentRowChanged.connect(lambda *_: self._show_job())
        self.jobs.dataChanged.connect(lambda *_: self._show_job())
        self.jobs.job_ended.connect(self._job_ended)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel_selected)
        self.results = QLabel()
        self.results.setWordWrap(True)
        self.results.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        jobs_box = QGroupBox("Jobs")
        jobs_layout = QVBoxLayout(jobs_box)
        jobs_layout.addWidget(self.jobs_view)
        buttons = QHBoxLayout()
        buttons.addWidget(self.results, 1)
        buttons.addWidget(self.cancel_btn)
        jobs_layout.addLayout(buttons)
        jobs_layout.addWidget(self.log)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(source_box)
        top_layout.addWidget(targets_box, 1)
        top_layout.addWidget(options_box)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(jobs_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(splitter, 1)
        self._show_job()

    # ---- navigation ----------------------------------------------------------------------------------------
    def open_with(self, model: str | Path | None = None, **_kwargs: Any) -> None:
        if model is not None:
            self.source.setText(str(model))
            self.load_source()

    def shutdown(self) -> None:
        self.jobs.cancel_all()

    # ---- source --------------------------------------------------------------------------------------------
    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Hugging Face model folder", str(self._models_dir()))
        if folder:
            self.source.setText(folder)
            self.load_source()

    def _pick_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "GGUF model", str(self._models_dir()), "GGUF (*.gguf)")
        if path:
            self.source.setText(path)
            self.load_source()

    def _models_dir(self) -> Path:
        return self.ctx.settings.models_path()

    def load_source(self) -> None:
        from app.quantize.source import is_repo_id, local_source

        text = self.source.text().strip()
        if not text:
            return
        if is_repo_id(text):
            self._fetch_repo(text)
            return
        try:
            path = local_source(text)
        except AppError as exc:
            self._source_failed(exc)
            return
        self.plan = None
        self.source_info.setText("Reading the model…")
        self._task = run_task(plan_source, path, self.ctx.hardware.info, name="quantize plan")
        self._task.finished.connect(self._source_ready)
        self._task.failed.connect(self._source_failed)

    def _fetch_repo(self, repo_id: str) -> None:
        """Through the app's download queue: the files show on the Downloads page, resume and are verified."""
        self.source_info.setText(f"Fetching {repo_id} (safetensors and tokenizer files)…")
        self.load_btn.setEnabled(False)
        self._fetch = run_task(_repo_files, repo_id, name="repo files")
        self._fetch.finished.connect(lambda names: self._enqueue(repo_id, names))
        self._fetch.failed.connect(self._source_failed)

    def _enqueue(self, repo_id: str, names: list[str]) -> None:
        from app.downloads.layout import repo_dir
        from app.ui.models.download_service import download_service

        downloads = download_service(self.ctx)
        try:
            item = downloads.enqueue(repo_id, names)
        except AppError as exc:
            self._source_failed(exc)
            return
        folder = repo_dir(self._models_dir(), repo_id)

        def changed(changed_item: Any) -> None:
            if changed_item.id != item.id:
                return
            if changed_item.state.value == "done":
                downloads.item_changed.disconnect(changed)
                self._fetched(folder)
            elif not changed_item.state.active:
                downloads.item_changed.disconnect(changed)
                self._source_failed(changed_item.error or f"the download {changed_item.state.value}")

        downloads.item_changed.connect(changed)
        if item.state.value == "done":
            downloads.item_changed.disconnect(changed)
            self._fetched(folder)

    def _fetched(self, folder: object) -> None:
        self.load_btn.setEnabled(True)
        self.source.setText(str(folder))
        self.load_source()

    def _source_ready(self, plan: SourcePlan) -> None:
        self.plan = plan
        self.source_info.setText(plan.summary)
        self.targets.set_estimates(plan.sizes, plan.fits)

    def _source_failed(self, exc: object) -> None:
        self.load_btn.setEnabled(True)
        self.plan = None
        self.source_info.setText(f"Cannot use this source: {exc}")

    # ---- jobs ----------------------------------------------------------------------------------------------
    def _pick_imatrix(self) -> None:
        what = "Calibration text" if self.imatrix_mode.currentIndex() == IMATRIX_TEXT else "Imatrix file"
        path, _ = QFileDialog.getOpenFileName(self, what, str(Path.home()))
        if path:
            self.imatrix_path.setText(path)
            if self.imatrix_mode.currentIndex() == IMATRIX_AUTO:
                self.imatrix_mode.setCurrentIndex(IMATRIX_FILE if path.endswith(".gguf") else IMATRIX_TEXT)

    def build_spec(self) -> QuantizeSpec:
        if self.plan is None:
            raise QuantizeError("load a source first")
        types = self.targets.checked()
        if not types:
            raise QuantizeError("tick at least one target type")
        source = self.plan.source
        mode = self.imatrix_mode.currentIndex()
        extra = Path(self.imatrix_path.text().strip()).expanduser() if self.imatrix_path.text().strip() else None
        if mode != IMATRIX_AUTO and (extra is None or not extra.is_file()):
            raise QuantizeError("choose the calibration text or imatrix file")
        out_text = self.out_dir.text().strip()
        out_dir = Path(out_text).expanduser() if out_text else (source if source.is_dir() else source.parent)
        return QuantizeSpec(
            source=source,
            targets=tuple(q.name for q in types),
            out_dir=out_dir,
            imatrix=extra if mode == IMATRIX_FILE else None,
            calibration=extra if mode == IMATRIX_TEXT else None,
            options=QuantizeOptions(
                n_threads=cpu_threads(),
                pure=self.pure.isChecked(),
                output_type=_chosen(self.output_type),
                token_embedding_type=_chosen(self.embedding_type),
                overrides=parse_overrides(self.overrides.text()),
            ),
            quality=self.quality.isChecked(),
            n_threads=cpu_threads(),
        )

    def start(self) -> int | None:
        try:
            spec = self.build_spec()
        except AppError as exc:
            self.ctx.messages.error(str(exc))
            return None
        job_id = self.jobs.start(spec)
        self.jobs_view.selectRow(self.jobs.row_of(job_id))
        return job_id

    def cancel_selected(self) -> None:
        job = self._selected()
        if job is not None and job.active:
            self.jobs.cancel(job.id)

    def _job_ended(self, job: JobRow) -> None:
        if job.status == "done":
            self._add_to_library(job.spec.out_dir)
        elif job.status == "failed":
            self.ctx.messages.error(f"Quantizing {job.spec.source.name} failed: {job.message.splitlines()[0]}")

    def _add_to_library(self, folder: Path) -> None:
        """The Library watches its folders: make sure the new quants' folder is one of them."""
        settings = self.ctx.settings
        roots = [settings.models_path(), *(Path(f).expanduser() for f in settings.values.library_folders)]
        resolved = folder.resolve()
        if any(resolved == r.resolve() or r.resolve() in resolved.parents for r in roots):
            return
        settings.update(library_folders=(*settings.values.library_folders, str(folder)))

    def _selected(self) -> JobRow | None:
        index: QModelIndex = self.jobs_view.currentIndex()
        if not index.isValid():
            return None
        return self.jobs.job(index.row())

    def _show_job(self) -> None:
        job = self._selected()
        self.cancel_btn.setEnabled(job is not None and job.active)
        if job is None:
            self.results.setText("")
            self.log.setPlainText("")
            return
        lines = [f"warning: {w}" for w in job.warnings]
        if job.status == "failed":
            lines.append(f"failed: {job.message.splitlines()[0] if job.message else 'unknown error'}")
        for o in job.outputs:
            if o.kind == "quant":
                score = f", KLD {o.mean_kld:.4f}, top-1 {100 * (o.top1_agreement or 0):.0f}%" if o.mean_kld else ""
                lines.append(f"{o.path.name}: {format_bytes(o.size_bytes)}{score}")
        self.results.setText("\n".join(lines))
        text = "\n".join(job.log)
        if self.log.toPlainText() != text:
            self.log.setPlainText(text)
            self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())


def _chosen(combo: QComboBox) -> str | None:
    text = combo.currentText()
    return None if text == "auto" else text


def parse_overrides(text: str) -> tuple[tuple[str, str], ...]:
    """'ffn_down=Q6_K; attn_v=Q8_0' -> (("ffn_down", "Q6_K"), ("attn_v", "Q8_0"))."""
    out = []
    for part in text.replace("\n", ";").split(";"):
        if not part.strip():
            continue
        pattern, sep, type_name = part.strip().rpartition("=")
        if not sep or not pattern or type_name.strip().upper() not in TENSOR_TYPES:
            raise QuantizeError(f"tensor type override {part.strip()!r} must look like REGEX=TYPE (e.g. ffn_down=Q6_K)")
        out.append((pattern.strip(), type_name.strip().upper()))
    return tuple(out)


def _repo_files(_control: Any, repo_id: str) -> list[str]:
    from app.hub.detail import repo_detail
    from app.quantize.source import hf_files

    return hf_files(f.path for f in repo_detail(repo_id).other_files)
