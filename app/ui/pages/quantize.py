"""Quantize: a Hugging Face model (Hub repo, local folder) or a GGUF to any llama.cpp quant, in worker processes."""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError, QuantizeError
from app.core.units import format_bytes
from app.quantize.destination import default_out_dir
from app.quantize.imatrix import DEFAULT_CHUNK, check_chunk_size
from app.quantize.overrides import TENSOR_TYPES, parse_overrides
from app.quantize.pipeline import QuantizeSpec, with_free_names
from app.quantize.plan import SourcePlan, plan_source
from app.quantize.quality_file import KLD_EXPLAINED
from app.quantize.quantizer import QuantizeOptions
from app.quantize.runner import cpu_threads
from app.ui.context import AppContext
from app.ui.models.quantize_jobs import JobRow, JobsModel
from app.ui.models.quantize_targets import TargetsModel
from app.ui.tasks import Task, run_task
from app.ui.widgets.page_header import PAGE_MARGINS, page_subtitle, page_title

log = logging.getLogger("app.ui.quantize")

IMATRIX_AUTO, IMATRIX_TEXT, IMATRIX_FILE = range(3)
MIN_CHUNK, MAX_CHUNK = 64, 8192  # the chunk-size spin box's range (tokens)
JOBS_HEIGHT = 200  # the jobs pane's share of the page's height at first; the targets get the rest
REPLACE, KEEP_BOTH = "replace", "keep both"
QUALITY_LINE = (
    "KLD: how far a quant's predictions drift from its source's (0 = identical, above 0.1 noticeably worse); "
    "top-1: how often both pick the same next token."
)
CHUNK_TIP = (
    "Tokens per chunk the calibration text is cut into (llama-imatrix's -c). Longer chunks see more context; "
    "at most the model's training context. Used only when an importance matrix is computed."
)


class QuantizePage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._task: Task | None = None
        self._fetch: Task | None = None
        self.plan: SourcePlan | None = None
        self._imatrix_notes: dict[Path, str] = {}

        title = page_title("Quantize")
        subtitle = page_subtitle(
            "Turn a Hugging Face model or a GGUF into llama.cpp quants. Tick the types you want; sizes and fit "
            "are predicted for this machine."
        )

        source_box = self._source_box()
        targets_box = self._targets_box()
        options = self._options_panel()
        jobs_box = self._jobs_box()

        self.top_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.top_splitter.setChildrenCollapsible(False)
        self.top_splitter.addWidget(targets_box)
        self.top_splitter.addWidget(options)
        self.top_splitter.setStretchFactor(0, 3)
        self.top_splitter.setStretchFactor(1, 2)
        self.top_splitter.setSizes([600, 400])
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.top_splitter)
        self.splitter.addWidget(jobs_box)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([2 * JOBS_HEIGHT, JOBS_HEIGHT])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PAGE_MARGINS)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addWidget(source_box)
        layout.addWidget(self.splitter, 1)
        self._update_selection()
        self._show_job()
        ctx.hardware.ready.connect(self._hardware_ready)

    # ---- layout --------------------------------------------------------------------------------------------
    def _source_box(self) -> QWidget:
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
        row.addWidget(QLabel("Source"))
        for w in (self.source, folder_btn, gguf_btn, self.load_btn):
            row.addWidget(w, 1 if w is self.source else 0)
        self.source_info = QLabel("Choose a model to quantize.")
        self.source_info.setObjectName("PageSubtitle")
        self.source_info.setWordWrap(True)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 8, 0, 4)
        layout.addLayout(row)
        layout.addWidget(self.source_info)
        return box

    def _targets_box(self) -> QWidget:
        self.targets = TargetsModel(self)
        self.targets_view = QTableView()
        self.targets_view.setModel(self.targets)
        self.targets_view.verticalHeader().hide()
        self.targets_view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.targets_view.setAlternatingRowColors(True)
        self.targets_view.setWordWrap(False)
        self.targets_view.setMinimumHeight(120)
        header = self.targets_view.horizontalHeader()
        for col in range(3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.targets.dataChanged.connect(lambda *_: self._update_selection())
        self.selection_info = QLabel()
        self.selection_info.setObjectName("PageSubtitle")
        box = QGroupBox("Targets")
        layout = QVBoxLayout(box)
        layout.addWidget(self.targets_view, 1)
        layout.addWidget(self.selection_info)
        return box

    def _options_panel(self) -> QWidget:
        # importance matrix
        self.imatrix_mode = QComboBox()
        self.imatrix_mode.addItems(["Compute if a type needs it", "Compute from a text file", "Use an imatrix file"])
        self.imatrix_mode.setToolTip(
            "IQ1/IQ2 types and Q2_K_S need an importance matrix. It is computed from the app's built-in text "
            "unless you give a calibration text or a ready imatrix (.gguf) file."
        )
        self.imatrix_mode.currentIndexChanged.connect(lambda *_: self._update_imatrix_controls())
        self.imatrix_path = QLineEdit()
        self.imatrix_path.setPlaceholderText("calibration text or imatrix file")
        self.imatrix_browse = QPushButton("Browse…")
        self.imatrix_browse.clicked.connect(self._pick_imatrix)
        file_row = QHBoxLayout()
        file_row.addWidget(self.imatrix_path, 1)
        file_row.addWidget(self.imatrix_browse)
        self.imatrix_ctx = QSpinBox()
        self.imatrix_ctx.setRange(MIN_CHUNK, MAX_CHUNK)
        self.imatrix_ctx.setSingleStep(64)
        self.imatrix_ctx.setValue(DEFAULT_CHUNK)
        self.imatrix_ctx.setSuffix(" tokens")
        self.imatrix_ctx.setToolTip(CHUNK_TIP)
        imatrix_box = QGroupBox("Importance matrix")
        imatrix_form = QFormLayout(imatrix_box)
        imatrix_form.addRow("Mode", self.imatrix_mode)
        imatrix_form.addRow("File", file_row)
        imatrix_form.addRow("Chunk size", self.imatrix_ctx)

        # output
        self.out_dir = QLineEdit()
        self.out_dir.setPlaceholderText("the models folder")
        self.out_dir.setToolTip(
            "Empty: the models folder, beside the source when it is a download there, else in local/<name>, "
            "so the Library lists the quants"
        )
        out_browse = QPushButton("Browse…")
        out_browse.clicked.connect(self._pick_out_dir)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(out_browse)
        self.keep_f16 = QCheckBox("Keep the converted F16")
        self.keep_f16.setToolTip(
            "A Hugging Face model is converted to a full-size F16 GGUF first; it is removed after quantizing "
            "unless you keep it"
        )
        self.keep_f16.setEnabled(False)
        self.no_mtp = QCheckBox("Leave out multi-token-prediction layers")
        self.no_mtp.setToolTip(
            "Some models (Qwen3.5, Qwen3-Next, GLM-4.5, Nemotron 3) carry layers that predict further tokens ahead. "
            "They are kept by default, as llama.cpp's converter keeps them; llama.cpp does not load them for "
            "chat, so leaving them out only makes the files smaller (llama.cpp's --no-mtp)"
        )
        self.no_mtp.setEnabled(False)
        self.no_mtp.toggled.connect(self._mtp_toggled)
        self.quality = QCheckBox("Score each quant against its source")
        self.quality.setToolTip(KLD_EXPLAINED)
        self.projector = QComboBox()
        self.projector.addItems(["F16", "Q8_0", "None"])
        self.projector.setToolTip(
            "A vision model's projector goes beside the quants, so Chat can send them images: F16 is what "
            "llama.cpp's converter writes, Q8_0 is half the size"
        )
        self.projector.setEnabled(False)
        output_box = QGroupBox("Output")
        output_form = QFormLayout(output_box)
        output_form.addRow("Folder", out_row)
        output_form.addRow(self.keep_f16)
        output_form.addRow(self.no_mtp)
        output_form.addRow(self.quality)
        output_form.addRow("Vision projector", self.projector)

        # advanced (collapsed until asked for)
        self.pure = QCheckBox("Pure: every weight in the target type")
        self.output_type = QComboBox()
        self.embedding_type = QComboBox()
        for combo in (self.output_type, self.embedding_type):
            combo.addItems(["auto", *TENSOR_TYPES])
        self.overrides = QLineEdit()
        self.overrides.setPlaceholderText("ffn_down=Q6_K; attn_v=Q8_0")
        self.overrides.setToolTip("Per-tensor types: REGEX=TYPE pairs separated by ';'")
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced tensor types")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced = QWidget()
        advanced_form = QFormLayout(self.advanced)
        advanced_form.setContentsMargins(12, 0, 0, 0)
        advanced_form.addRow(self.pure)
        advanced_form.addRow("output.weight", self.output_type)
        advanced_form.addRow("Token embeddings", self.embedding_type)
        advanced_form.addRow("Per tensor", self.overrides)
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)

        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.setContentsMargins(0, 0, 4, 0)
        inner_layout.addWidget(imatrix_box)
        inner_layout.addWidget(output_box)
        inner_layout.addWidget(self.advanced_toggle)
        inner_layout.addWidget(self.advanced)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(300)

        self.start_btn = QPushButton("Quantize")
        self.start_btn.setObjectName("PrimaryButton")
        self.start_btn.setDefault(True)
        self.start_btn.clicked.connect(self.start)
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.start_btn)
        return panel

    def _jobs_box(self) -> QWidget:
        self.jobs = JobsModel(self)
        self.jobs_view = QTableView()
        self.jobs_view.setModel(self.jobs)
        self.jobs_view.verticalHeader().hide()
        self.jobs_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.jobs_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.jobs_view.setWordWrap(False)
        jobs_header = self.jobs_view.horizontalHeader()
        jobs_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        jobs_header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.jobs_view.selectionModel().currentRowChanged.connect(lambda *_: self._show_job())
        self.jobs.dataChanged.connect(lambda *_: self._show_job())
        self.jobs.job_ended.connect(self._job_ended)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel_selected)
        self.chat_btn = QPushButton("Open in Chat")
        self.chat_btn.setToolTip("Load the selected job's quant in Chat")
        self.chat_btn.clicked.connect(lambda: self._open_quant("chat"))
        self.library_btn = QPushButton("Show in Library")
        self.library_btn.setToolTip("Show the selected job's quant in the Library")
        self.library_btn.clicked.connect(lambda: self._open_quant("library"))
        self.results = QLabel()
        self.results.setWordWrap(True)
        self.results.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setPlaceholderText("The selected job's log")
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.jobs_view, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.results, 1)
        actions = QVBoxLayout()
        for button in (self.cancel_btn, self.chat_btn, self.library_btn):
            actions.addWidget(button)
        actions.addStretch(1)
        buttons.addLayout(actions)
        left_layout.addLayout(buttons)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(left)
        split.addWidget(self.log)
        split.setSizes([600, 400])
        box = QGroupBox("Jobs")
        box.setMinimumHeight(150)
        QVBoxLayout(box).addWidget(split)
        return box

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _update_selection(self) -> None:
        chosen = self.targets.checked()
        if not chosen:
            self.selection_info.setText("No type ticked")
            self.start_btn.setText("Quantize")
        else:
            sizes = [self.targets.predicted(q.name) for q in chosen]
            total = f" · about {format_bytes(sum(s for s in sizes if s))} in all" if all(sizes) else ""
            self.selection_info.setText(f"{len(chosen)} ticked: {', '.join(q.name for q in chosen)}{total}")
            self.start_btn.setText(f"Quantize to {len(chosen)} type{'s' if len(chosen) > 1 else ''}")
        self._update_imatrix_controls()

    def imatrix_computed(self) -> bool:
        """Whether the job will compute an importance matrix (and so read the chunk size)."""
        mode = self.imatrix_mode.currentIndex()
        return mode == IMATRIX_TEXT or (mode == IMATRIX_AUTO and any(q.needs_imatrix for q in self.targets.checked()))

    def _update_imatrix_controls(self) -> None:
        self.imatrix_ctx.setEnabled(self.imatrix_computed())
        self.imatrix_path.setEnabled(self.imatrix_mode.currentIndex() != IMATRIX_AUTO)

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
        self._read_source(path)

    def _read_source(self, path: Path, again: bool = False) -> None:
        """`again`: the same source for another option; its plan stays (a job can start) until the new one lands."""
        if not again:
            self.plan = None
            self.source_info.setText("Reading the model…")
        prefs, no_mtp = self.ctx.settings.values, self.no_mtp.isChecked()
        self._task = run_task(_plan_source, path, self.ctx.hardware.info, prefs, no_mtp, name="quantize plan")
        self._task.finished.connect(self._source_ready)
        self._task.failed.connect(self._source_failed)

    def _mtp_toggled(self, checked: bool) -> None:
        """The sizes of a Hugging Face folder's quants follow the option (a GGUF source is quantized as it is)."""
        if self.plan is not None and self.plan.source.is_dir() and self.plan.no_mtp != checked:
            self._read_source(self.plan.source, again=True)

    def _fetch_repo(self, repo_id: str) -> None:
        """Through the app's download queue: the files show on the Downloads page, resume and are verified."""
        self.source_info.setText(f"Fetching {repo_id} (safetensors and tokenizer files)…")
        self.load_btn.setEnabled(False)
        self._fetch = run_task(_repo_files, repo_id, name="repo files")
        self._fetch.finished.connect(lambda names: self._enqueue(repo_id, names))
        self._fetch.failed.connect(self._source_failed)

    def _enqueue(self, repo_id: str, names: list[str]) -> None:
        from app.downloads.layout import repo_dir

        downloads = self.ctx.downloads
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
        if plan.source.is_dir() and plan.no_mtp != self.no_mtp.isChecked():
            self._read_source(plan.source, again=True)  # the option changed while this plan was read
            return
        self.plan = plan
        if not plan.fits and self.ctx.hardware.info is not None:
            self._hardware_ready(self.ctx.hardware.info)  # the probe finished while this plan was read
            return
        self.source_info.setText("\n".join([plan.summary, *(f"⚠ {w}" for w in plan.warnings)]))
        self.keep_f16.setEnabled(plan.source.is_dir())
        self.no_mtp.setEnabled(plan.source.is_dir())
        self.projector.setEnabled(bool(plan.projector))
        self.projector.setToolTip(plan.projector and f"The projector is {plan.projector}")
        self.out_dir.setPlaceholderText(str(default_out_dir(plan.source, self._models_dir())))
        self.targets.set_estimates(plan.sizes, plan.fits)
        trained = f" This model was trained with a {plan.n_ctx_train}-token context." if plan.n_ctx_train else ""
        self.imatrix_ctx.setToolTip(CHUNK_TIP + trained)

    def _hardware_ready(self, _info: object) -> None:
        """A source read before the hardware probe finished has no fit verdicts yet: read it again (sizes are
        cheap to predict again; the verdicts need the machine's memory)."""
        if self.plan is not None and not self.plan.fits:
            self.source.setText(str(self.plan.source))
            self.load_source()

    def _source_failed(self, exc: object) -> None:
        self.load_btn.setEnabled(True)
        self.plan = None
        self.keep_f16.setEnabled(False)
        self.no_mtp.setEnabled(False)
        self.projector.setEnabled(False)
        self.out_dir.setPlaceholderText("the models folder")
        self.source_info.setText(f"Cannot use this source: {exc}")

    # ---- jobs ----------------------------------------------------------------------------------------------
    def _pick_imatrix(self) -> None:
        what = "Calibration text" if self.imatrix_mode.currentIndex() == IMATRIX_TEXT else "Imatrix file"
        path, _ = QFileDialog.getOpenFileName(self, what, str(Path.home()))
        if path:
            self.imatrix_path.setText(path)
            if self.imatrix_mode.currentIndex() == IMATRIX_AUTO:
                self.imatrix_mode.setCurrentIndex(IMATRIX_FILE if path.endswith(".gguf") else IMATRIX_TEXT)

    def _pick_out_dir(self) -> None:
        start = self.out_dir.text().strip() or (str(self.plan.source.parent) if self.plan else str(Path.home()))
        folder = QFileDialog.getExistingDirectory(self, "Output folder", start)
        if folder:
            self.out_dir.setText(folder)

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
        if self.imatrix_computed():
            check_chunk_size(self.imatrix_ctx.value(), self.plan.n_ctx_train, source.name)
        out_text = self.out_dir.text().strip()
        out_dir = Path(out_text).expanduser() if out_text else default_out_dir(source, self._models_dir())
        return QuantizeSpec(
            source=source,
            targets=tuple(q.name for q in types),
            out_dir=out_dir,
            imatrix=extra if mode == IMATRIX_FILE else None,
            calibration=extra if mode == IMATRIX_TEXT else None,
            imatrix_ctx=self.imatrix_ctx.value(),
            options=QuantizeOptions(
                n_threads=cpu_threads(),
                pure=self.pure.isChecked(),
                output_type=_chosen(self.output_type),
                token_embedding_type=_chosen(self.embedding_type),
                overrides=parse_overrides(self.overrides.text()),
            ),
            quality=self.quality.isChecked(),
            n_threads=cpu_threads(),
            keep_intermediate=self.keep_f16.isChecked() and source.is_dir(),
            no_mtp=self.no_mtp.isChecked() and source.is_dir(),
            projector={"F16": "f16", "Q8_0": "q8_0"}.get(self.projector.currentText(), ""),
        )

    def start(self) -> int | None:
        try:
            spec = self.build_spec()
        except AppError as exc:
            self.ctx.messages.error(str(exc))
            return None
        existing = spec.existing_outputs()
        if existing:  # never rewrite a file without asking: replace it, or write a second set beside it
            answer = ask_existing(self, existing)
            if answer is None:
                return None
            spec = replace(spec, overwrite=True) if answer == REPLACE else with_free_names(spec)
        job_id = self.jobs.start(spec)
        self.jobs_view.selectRow(self.jobs.row_of(job_id))
        return job_id

    def cancel_selected(self) -> None:
        job = self._selected()
        if job is not None and job.active:
            self.jobs.cancel(job.id)

    def _job_ended(self, job: JobRow) -> None:
        if job.status == "done":
            self._add_to_library([o.path for o in job.outputs if o.kind == "quant"])
        elif job.status == "failed":
            self.ctx.messages.error(f"Quantizing {job.spec.source.name} failed: {job.message.splitlines()[0]}")

    def _add_to_library(self, quants: list[Path]) -> None:
        """The new quants, and only they, come into the Library: files outside its folders as links, never
        by adding their folder to "Also scan" (which would pull in everything else there)."""
        from app.library.manage import list_in_library

        settings = self.ctx.settings
        folders = [Path(f).expanduser() for f in settings.values.library_folders]
        try:
            linked = list_in_library(quants, settings.models_path(), folders)
        except AppError as exc:
            self.ctx.messages.error(f"The new quants are not in the Library: {exc}")
            return
        if linked:
            names = ", ".join(p.name for p in linked)
            self.ctx.messages.info(f"Listed in the Library as links: {names}")

    def _quants(self) -> list[Path]:
        job = self._selected()
        if job is None or job.status != "done":
            return []
        return [o.path for o in job.outputs if o.kind == "quant" and o.path.is_file()]

    def _open_quant(self, page: str) -> None:
        quants = self._quants()
        if len(quants) > 1:  # which one: a menu under the button
            menu = QMenu(self)
            for path in quants:
                menu.addAction(path.name, partial(self.ctx.navigate, page, model=str(path)))
            button = self.chat_btn if page == "chat" else self.library_btn
            menu.popup(button.mapToGlobal(button.rect().bottomLeft()))
        elif quants:
            self.ctx.navigate(page, model=str(quants[0]))

    def _selected(self) -> JobRow | None:
        index: QModelIndex = self.jobs_view.currentIndex()
        if not index.isValid():
            return None
        return self.jobs.job(index.row())

    def _show_job(self) -> None:
        job = self._selected()
        self.cancel_btn.setEnabled(job is not None and job.active)
        done = bool(self._quants())
        self.chat_btn.setEnabled(done)
        self.library_btn.setEnabled(done)
        if job is None:
            self.results.setText("")
            self.log.setPlainText("")
            return
        lines = [f"warning: {w}" for w in job.warnings]
        if job.status == "failed":
            lines.append(f"failed: {job.message.splitlines()[0] if job.message else 'unknown error'}")
        for o in job.outputs:
            if o.kind == "imatrix":
                if o.path not in self._imatrix_notes:  # read once: this runs on every progress tick
                    self._imatrix_notes[o.path] = _imatrix_note(o.path)
                note = self._imatrix_notes[o.path]
                lines.append(f"{o.path.name}: {format_bytes(o.size_bytes)}{', ' + note if note else ''}")
            elif o.kind == "quant":
                scored = o.mean_kld is not None
                score = f", KLD {o.mean_kld:.4f}, top-1 {100 * (o.top1_agreement or 0):.0f}%" if scored else ""
                lines.append(f"{o.path.name}: {format_bytes(o.size_bytes)}{score}")
            elif o.kind == "mmproj":
                lines.append(f"{o.path.name}: {format_bytes(o.size_bytes)}, the vision projector")
        if any(o.mean_kld is not None for o in job.outputs):
            lines.append(QUALITY_LINE)
        self.results.setText("\n".join(lines))
        self.results.setToolTip(KLD_EXPLAINED if any(o.mean_kld is not None for o in job.outputs) else "")
        text = "\n".join(job.log)
        if self.log.toPlainText() != text:
            self.log.setPlainText(text)
            self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())


def ask_existing(parent: QWidget, existing: list[Path]) -> str | None:
    """REPLACE, KEEP_BOTH (numbered names beside the existing files) or None (do not start)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Files exist")
    shown = ", ".join(p.name for p in existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
    box.setText(f"{shown} already exist{'s' if len(existing) == 1 else ''} in {existing[0].parent}.")
    box.setInformativeText("Replace them (and their quality scores), or keep them and write new files beside them?")
    answers = {
        box.addButton("Keep both", QMessageBox.ButtonRole.AcceptRole): KEEP_BOTH,
        box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole): REPLACE,
    }
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return answers.get(box.clickedButton())  # type: ignore[call-overload]


def _imatrix_note(path: Path) -> str:
    from app.quantize.imatrix import chunk_summary

    try:
        return chunk_summary(path)
    except (AppError, OSError):  # the note is a nicety: a file we cannot read just goes without one
        return ""


def _chosen(combo: QComboBox) -> str | None:
    text = combo.currentText()
    return None if text == "auto" else text


def _plan_source(_control: Any, source: Path, hardware: Any, preferences: Any, no_mtp: bool) -> SourcePlan:
    from app.estimate.engine import engine_settings
    from app.estimate.hardware import spec_from_info

    spec = spec_from_info(hardware) if hardware is not None else None
    return plan_source(source, spec, engine_settings(preferences), no_mtp)


def _repo_files(_control: Any, repo_id: str) -> list[str]:
    from app.quantize.source import convertible_files

    return convertible_files(repo_id)  # refuses an unsupported architecture from config.json alone
