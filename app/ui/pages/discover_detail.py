"""The right side of Discover: one repository's card, its quants with fit verdicts, and the quant ladder."""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError, GatedRepoError
from app.downloads.items import DownloadItem, ItemProgress
from app.estimate.hardware import HardwareSpec, spec_from_info
from app.estimate.model import ModelShape
from app.hardware import HardwareInfo
from app.hub.fit import RepoFit, fit_quants, reference_shape
from app.hub.models import Quant, RepoDetail
from app.hub.projector import default_projector
from app.library.presence import LibraryPresence
from app.quantize.source import Convertibility, repo_convertibility
from app.ui.context import AppContext
from app.ui.models.hub_quants import (
    COL_DOWNLOAD,
    COL_FIT,
    COL_MEMORY,
    FIT_ROLE,
    QuantTableModel,
    context_words,
    human_size,
)
from app.ui.models.hub_results import age, human_count
from app.ui.pages.discover_actions import BUTTON_TEXTS, QuantAction, QuantButton, QuantState, local_files, quant_state
from app.ui.pages.discover_tasks import connect_task
from app.ui.tasks import Task, TaskControl, run_task
from app.ui.widgets.memory_bar import MemoryBarDelegate
from app.ui.widgets.page_header import page_title
from app.ui.widgets.quant_badge import VerdictBadgeDelegate
from app.ui.widgets.quant_ladder import LadderPoint, QuantLadder, nominal_bpw
from app.ui.widgets.selection import soft_selection

log = logging.getLogger("app.ui.discover")

MIN_CTX, MAX_CTX = 256, 1 << 20
RETRY = "gguf-studio:retry"
QUANTIZE = "gguf-studio:quantize"


def open_url(url: str) -> bool:
    """Open a web page in the browser (tests replace this)."""
    return QDesktopServices.openUrl(QUrl(url))


def _load_detail(_control: TaskControl, repo_id: str) -> RepoDetail:
    from app.hub import repo_detail

    return repo_detail(repo_id)


def _load_convertibility(_control: TaskControl, repo_id: str, revision: str) -> Convertibility:
    return repo_convertibility(repo_id, revision)  # config.json alone: no weight is fetched


def _load_reference(_control: TaskControl, detail: RepoDetail) -> ModelShape | None:
    return reference_shape(detail)


def _compute_fit(
    _control: TaskControl, detail: RepoDetail, hardware: HardwareSpec, n_ctx: int, reference: ModelShape | None,
    projector_bytes: int = 0,
) -> RepoFit:
    return fit_quants(detail, hardware, n_ctx, reference, projector_bytes=projector_bytes)


def _load_projector(_control: TaskControl, detail: RepoDetail) -> int:
    from app.hub.projector import remote_projector_memory

    memory = remote_projector_memory(detail)  # its header, by range requests
    return memory.total if memory is not None else 0


def error_html(error: BaseException) -> str:
    """An error as rich text; a gated repository links to the page where its license is accepted."""
    text = html.escape(str(error.message if isinstance(error, AppError) else error))
    if isinstance(error, GatedRepoError):
        link = f'<a href="{html.escape(error.url)}">open {html.escape(error.repo_id)} on the Hub</a>'
        return f"{html.escape(error.message)} — {link}"
    if isinstance(error, AppError) and error.hint:
        return f"{text}<br><span style='opacity:0.75'>{html.escape(error.hint)}</span>"
    return text


class DetailPane(QWidget):
    detail_loaded = Signal(object)  # RepoDetail
    fit_ready = Signal(object)  # RepoFit
    failed = Signal(object)  # the exception
    download_requested = Signal(str, object)  # repo id, Quant

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.detail: RepoDetail | None = None
        self.reference: ModelShape | None = None
        self.fit: RepoFit | None = None
        self._generation = 0
        self._scrolled_generation = -1
        self._reference_failed = False
        self._reference_note = ""
        self._projector_bytes: int | None = None  # with images: the projector's memory, once its header is read
        self.denied = False  # a gated repository the Hub does not (yet) let this user download
        self.library: LibraryPresence | None = None  # the last library scan (the page sets it); None before one
        self.buttons: list[QuantButton] = []
        self._button_of_item: dict[str, QuantButton] = {}
        self._tasks: dict[str, Task] = {}
        self._fit_timer = QTimer(self, singleShot=True, interval=120)
        self._fit_timer.timeout.connect(self.recompute)

        self.stack = QStackedWidget()
        self.empty = QLabel("Pick a model on the left to see its files and what fits this machine.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setObjectName("PageSubtitle")
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self._build_content())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        ctx.hardware.ready.connect(self._on_hardware)  # a bound method: dropped with this widget
        ctx.downloads.item_changed.connect(self._on_download_changed)
        ctx.downloads.item_removed.connect(lambda _id: self.refresh_states())
        ctx.downloads.progress.connect(self._on_download_progress)

    # layout --------------------------------------------------------------------------------------------------
    def _build_content(self) -> QWidget:
        content = QWidget()
        v = QVBoxLayout(content)
        v.setContentsMargins(12, 4, 4, 4)
        v.setSpacing(8)
        self.title = page_title("")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta = QLabel()
        self.meta.setObjectName("PageSubtitle")
        self.notice = QLabel()  # loading, gated and error notes, in place
        self.notice.setWordWrap(True)
        self.notice.linkActivated.connect(self._on_link)
        self.notice.setTextFormat(Qt.TextFormat.RichText)
        self.notice.setObjectName("DiscoverNotice")
        self.notice.hide()
        v.addWidget(self.title)
        v.addWidget(self.meta)
        v.addWidget(self.notice)

        row = QHBoxLayout()
        row.addWidget(QLabel("Context"))
        self.ctx_spin = QSpinBox()
        self.ctx_spin.setRange(MIN_CTX, MAX_CTX)
        self.ctx_spin.setSingleStep(1024)
        self.ctx_spin.setSuffix(" tokens")
        self.ctx_spin.setAccelerated(True)
        self.ctx_spin.setValue(self.ctx.settings.values.default_context)
        self.ctx_spin.setToolTip("Context length the verdicts assume (the KV cache grows with it)")
        self.ctx_spin.valueChanged.connect(lambda _v: self.schedule_fit())
        self.ctx_spin.valueChanged.connect(lambda _v: self._show_context_note())
        row.addWidget(self.ctx_spin)
        self.ctx_note = QLabel()  # a context beyond what the model was trained for
        self.ctx_note.setObjectName("DiscoverContextNote")
        self.ctx_note.setStyleSheet("color: #b06000;")
        self.ctx_note.hide()
        row.addWidget(self.ctx_note)
        self.with_images = QCheckBox("With images")  # shown for a repository with a vision projector
        self.with_images.setToolTip(
            "Count the vision projector in every verdict: its weights and the memory llama.cpp reserves for one image"
        )
        self.with_images.hide()
        self.with_images.toggled.connect(self._on_images_toggled)
        row.addWidget(self.with_images)
        row.addSpacing(12)
        self.machine = QLabel()
        self.machine.setObjectName("PageSubtitle")
        self.machine.setWordWrap(True)  # wraps rather than widening the window's minimum
        row.addWidget(self.machine, 1)
        v.addLayout(row)

        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setObjectName("DiscoverReason")
        self.reason.setFrameShape(QFrame.Shape.StyledPanel)
        self.reason.setMargin(8)
        # Three lines reserved: what arrives later (a header that cannot be read) fits without moving the table.
        self.reason.setMinimumHeight(3 * self.reason.fontMetrics().lineSpacing() + 2 * 8 + 4)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.reason.linkActivated.connect(self._on_link)
        self.reason.hide()
        v.addWidget(self.reason)

        self.tabs = QTabWidget()
        files = QWidget()
        fv = QVBoxLayout(files)
        fv.setContentsMargins(0, 6, 0, 0)
        self.model = QuantTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.badges = VerdictBadgeDelegate(FIT_ROLE, self.table)
        self.bars = MemoryBarDelegate(FIT_ROLE, self.table)
        self.table.setItemDelegateForColumn(COL_FIT, self.badges)
        self.table.setItemDelegateForColumn(COL_MEMORY, self.bars)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_MEMORY, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_DOWNLOAD, QHeaderView.ResizeMode.Fixed)
        button_font = self.table.fontMetrics()
        header.resizeSection(COL_DOWNLOAD, max(button_font.horizontalAdvance(t) for t in BUTTON_TEXTS) + 28)
        header.setHighlightSections(False)
        soft_selection(self.table)  # the badges and bars of a selected row stay readable
        self.table.verticalHeader().setDefaultSectionSize(38)
        fv.addWidget(self.table)
        self.extras = QLabel()  # projector and importance-matrix files, kept apart from the quants
        self.extras.setObjectName("PageSubtitle")
        self.extras.setWordWrap(True)
        self.extras.hide()
        fv.addWidget(self.extras)
        # a vision model's projector, downloaded beside the quant (the Chat page pairs them by folder)
        self.with_projector = QCheckBox()
        self.with_projector.setChecked(True)
        self.with_projector.hide()
        fv.addWidget(self.with_projector)
        self.ladder = QuantLadder()
        fv.addWidget(self.ladder, 1)
        self.tabs.addTab(files, "Files && fit")
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(True)
        self.tabs.addTab(self.card, "Model card")
        v.addWidget(self.tabs, 1)
        return content

    # loading ---------------------------------------------------------------------------------------------------
    def show_repo(self, repo_id: str) -> None:
        self._generation += 1
        gen = self._generation
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self.detail, self.reference, self.fit = None, None, None
        self._projector_bytes = None
        self._reference_failed = False
        self._reference_note = ""  # why no header could be read, shown under the recommendation
        self.denied = False
        self.buttons, self._button_of_item = [], {}
        self.stack.setCurrentIndex(1)
        self.title.setText(repo_id)
        self.meta.setText("")
        self.model.set_quants((), None)
        self.ladder.set_points([])
        self.card.clear()
        self.reason.setText("Working out what fits this machine…")
        self.reason.show()  # shown from the start: its arrival never moves the table below it
        self._note("Loading files…")
        task = run_task(_load_detail, repo_id, name="hub detail")
        connect_task(self, task, lambda detail: self._on_detail(gen, detail), lambda exc: self._on_failed(gen, exc))
        self._tasks["detail"] = task

    def _on_detail(self, gen: int, detail: RepoDetail) -> None:
        if gen != self._generation:
            return
        self.detail = detail
        self.title.setText(detail.repo_id)
        bits = [
            detail.author,
            f"{human_count(detail.downloads)} downloads",
            f"{human_count(detail.likes)} likes",
            f"updated {age(detail.last_modified)}",
        ]
        if detail.architecture:
            bits.append(detail.architecture)
        if detail.n_params:
            bits.append(f"{human_count(detail.n_params)} parameters")
        if detail.context_length:
            bits.append(f"trained context {context_words(detail.context_length)} tokens")
        self.meta.setText(" · ".join(b for b in bits if b))
        self.card.setMarkdown(detail.card_markdown or "*This repository has no model card.*")
        self.model.set_quants(detail.quants, detail.n_params)
        self._add_download_buttons()
        self._fit_table_height()
        extras = [f"vision projector {q.first.name} ({human_size(q.size)})" for q in detail.mmproj]
        extras += [f"importance matrix {f.name}" for f in detail.imatrix]
        self.extras.setText("Also here: " + " · ".join(extras) if extras else "")
        self.extras.setVisible(bool(extras))
        projector = default_projector(detail.mmproj)
        self.with_projector.setText(
            f"Download the vision projector too ({projector.first.name}, {human_size(projector.size)}): "
            "images in chat" if projector else "")
        self.with_projector.setVisible(projector is not None)
        self.with_images.setVisible(projector is not None)
        if projector is not None and self.with_images.isChecked():
            self._read_projector()
        self._note("")
        if detail.gated:
            url = f"{self.ctx_endpoint()}/{detail.repo_id}"
            self._note(
                f'This model is gated: accept its license on <a href="{url}">the Hub</a> and sign in '
                "(Settings) before downloading."
            )
        if not detail.quants:
            self._note("This repository has no GGUF model files.")
            if any(f.path.endswith(".safetensors") for f in detail.other_files):  # can we make one?
                task = run_task(_load_convertibility, detail.repo_id, detail.sha or "main", name="hub config")
                connect_task(self, task, lambda c: self._on_convertibility(gen, c), lambda exc: None)
                self._tasks["convertible"] = task
        self._show_context_note()
        self.detail_loaded.emit(detail)
        self.recompute()
        if detail.quants:
            task = run_task(_load_reference, detail, name="hub header")
            connect_task(
                self,
                task,
                lambda shape: self._on_reference(gen, shape),
                lambda exc: self._on_reference_failed(gen, exc),
            )
            self._tasks["reference"] = task

    def _on_images_toggled(self, on: bool) -> None:
        if on and self._projector_bytes is None and self.detail is not None and self.detail.mmproj:
            self._read_projector()  # recomputes when it arrives
        else:
            self.recompute()

    def _read_projector(self) -> None:
        if self.detail is None or "projector" in self._tasks:
            return
        gen = self._generation
        task = run_task(_load_projector, self.detail, name="hub projector header")
        connect_task(self, task, lambda size: self._on_projector(gen, size),
                     lambda exc: self._on_projector_failed(gen, exc))
        self._tasks["projector"] = task

    def _on_projector(self, gen: int, size: int) -> None:
        if gen != self._generation:
            return
        self._projector_bytes = size
        self.recompute()

    def _on_projector_failed(self, gen: int, exc: BaseException) -> None:
        if gen != self._generation or self.detail is None:
            return
        log.info("projector header not read: %s", exc)
        projector = default_projector(self.detail.mmproj)
        self._projector_bytes = projector.size if projector else 0  # its weights, at least
        self.recompute()

    def projector_bytes(self) -> int:
        """What the verdicts count for images: 0 with the switch off (or its header still on its way)."""
        vision = self.detail is not None and bool(self.detail.mmproj)
        return (self._projector_bytes or 0) if vision and self.with_images.isChecked() else 0

    def _on_convertibility(self, gen: int, verdict: Convertibility) -> None:
        if gen != self._generation:
            return
        text = f"No GGUF files here, only safetensors weights: {html.escape(verdict.message)}."
        if verdict.convertible:
            text += f' <a href="{QUANTIZE}">Quantize it</a> to make GGUF files on this machine.'
        elif verdict.hint:
            text += f"<br>{html.escape(verdict.hint)}"
        self._note(text)

    def _on_reference(self, gen: int, shape: ModelShape | None) -> None:
        if gen != self._generation:
            return
        self.reference = shape
        self.recompute()

    def _on_reference_failed(self, gen: int, exc: BaseException) -> None:
        if gen != self._generation:
            return
        log.info("remote header not read: %s", exc)
        self._reference_failed = True
        if isinstance(exc, GatedRepoError):  # the Hub refused this user the files: Download could only fail
            self.denied = True
            self.refresh_states()
            self._reference_note = "No access to this gated model yet: Request access, then sign in (Settings)."
        else:
            self._reference_note = f"{error_html(exc)} (verdicts by file size only)"
        # In the reason box, which keeps its place: a note appearing above the table would move it under the
        # pointer of someone about to click Download.
        if self.fit is not None:
            self.recompute()

    def _on_failed(self, gen: int, exc: BaseException) -> None:
        if gen != self._generation:
            return
        self._note(f'{error_html(exc)} · <a href="{RETRY}">Retry</a>', error=True)
        self.failed.emit(exc)

    def _on_link(self, href: str) -> None:
        if href == RETRY:
            self.show_repo(self.title.text())
        elif href == QUANTIZE and self.detail is not None:
            self.ctx.navigate("quantize", model=self.detail.repo_id)
        else:
            QDesktopServices.openUrl(QUrl(href))

    # verdicts -------------------------------------------------------------------------------------------------
    def hardware_spec(self) -> HardwareSpec | None:
        info: HardwareInfo | None = self.ctx.hardware.info
        return spec_from_info(info) if info is not None else None

    def _on_hardware(self, _info: object) -> None:
        self.recompute()

    def schedule_fit(self) -> None:
        self._fit_timer.start()

    def recompute(self) -> None:
        spec = self.hardware_spec()
        self._show_machine(spec)
        if self.detail is None or spec is None:
            return
        gen = self._generation
        task = run_task(_compute_fit, self.detail, spec, self.ctx_spin.value(), self.reference,
                        self.projector_bytes(), name="fit")
        connect_task(self, task, lambda fit: self._on_fit(gen, fit, spec), lambda exc: self._on_failed(gen, exc))
        self._tasks["fit"] = task

    def _on_fit(self, gen: int, fit: RepoFit, spec: HardwareSpec) -> None:
        if gen != self._generation or self.detail is None:
            return
        self.fit = fit
        vram = spec.vram_free if spec.has_gpu else 0
        self.bars.set_caps(vram, spec.ram_available)
        # set_fit's dataChanged repaints every cell, bars included. (No viewport().update(): the first
        # viewport() call makes PySide build Python types and enums for every QWidget subclass, ~10 ms.)
        self.model.set_fit(fit)
        best = fit.recommended
        prefix = f"<b>Recommended: {html.escape(best.quant.label)}</b> — " if best else "<b>Nothing fits</b> — "
        # (the recommender's reason already says when no header was read; say only that one is on its way)
        exact = "" if fit.exact or self._reference_failed else " <i>(reading a header…)</i>"
        note = f"<br><span style='color:#b06000'>{self._reference_note}</span>" if self._reference_note else ""
        self.reason.setText(prefix + html.escape(fit.reason) + exact + note)
        self.reason.show()
        row = self.model.recommended_row()
        if row is not None and self._scrolled_generation != gen:  # once per repository, not on each refresh
            self._scrolled_generation = gen
            self.table.scrollTo(self.model.index(row, 0))
        points = []
        for qf in fit.fits:
            bpw = qf.quant.bits_per_weight(self.detail.n_params) or nominal_bpw(qf.quant.label)
            if bpw:
                points.append(LadderPoint(qf.quant.label, qf.quant.size, bpw, qf.verdict.kind, qf.recommended))
        self.ladder.set_points(points)
        self.fit_ready.emit(fit)

    def _show_context_note(self) -> None:
        trained = self.detail.context_length if self.detail is not None else None
        beyond = bool(trained) and self.ctx_spin.value() > (trained or 0)
        if beyond:
            self.ctx_note.setText(f"beyond the {context_words(trained or 0)} it was trained for")
            self.ctx_note.setToolTip(
                f"The model was trained with {trained:,} tokens of context; past that its answers degrade"
            )
        self.ctx_note.setVisible(beyond)

    def _show_machine(self, spec: HardwareSpec | None) -> None:
        if spec is None:
            self.machine.setText("Detecting this machine's memory…")
            return
        gpu = f"{human_size(spec.vram_free)} VRAM free" if spec.has_gpu else "no usable GPU"
        self.machine.setText(f"This machine: {human_size(spec.ram_available)} RAM available, {gpu}")

    # downloads ---------------------------------------------------------------------------------------------------
    def _add_download_buttons(self) -> None:
        self.buttons = []
        for row in range(self.model.rowCount()):
            button = QuantButton(self.model.quant(row), self._on_quant_click)
            self.buttons.append(button)
            self.table.setIndexWidget(self.model.index(row, COL_DOWNLOAD), button)
        self.refresh_states()

    def button(self, label: str) -> QuantButton:
        return next(b for b in self.buttons if b.quant.label == label)

    def refresh_states(self) -> None:
        """Each quant row's button from the download queue and the last library scan (viewing never starts the
        queue: before it has started, only the files the scan found count)."""
        if self.detail is None:
            return
        repo_id, service = self.detail.repo_id, self.ctx.downloads
        models = self.ctx.settings.models_path()
        self._button_of_item = {}
        for button in self.buttons:
            item = service.find(repo_id, button.quant.paths) if service.started else None
            progress = service.progress_of(item.id) if item is not None and item.state.active else None
            files = local_files(models if item is None else Path(item.models_dir), repo_id, button.quant)
            button.set_state(quant_state(button.quant, files, item, progress, denied=self.denied, library=self.library))
            if item is not None:
                self._button_of_item[item.id] = button

    def _on_download_changed(self, item: DownloadItem) -> None:
        if self.detail is None or item.repo_id != self.detail.repo_id:
            return
        if item.error_kind == GatedRepoError.__name__:
            self.denied = True
        self.refresh_states()

    def _on_download_progress(self, progress: ItemProgress) -> None:
        button = self._button_of_item.get(progress.item_id)
        if button is None or self.detail is None:
            return
        item = self.ctx.downloads.manager.get(progress.item_id)
        if item is not None:
            files = local_files(Path(item.models_dir), self.detail.repo_id, button.quant)
            button.set_state(quant_state(button.quant, files, item, progress, denied=self.denied, library=self.library))

    def _on_quant_click(self, quant: Quant, state: QuantState) -> None:
        if self.detail is None:
            return
        if state.action in (QuantAction.DOWNLOAD, QuantAction.RETRY):
            self.request_download(quant)
        elif state.action == QuantAction.SHOW_DOWNLOAD:
            self.ctx.navigate("downloads", item_id=state.item_id)
        elif state.action == QuantAction.OPEN_IN_CHAT and state.model_path is not None:
            self.ctx.navigate("chat", model=str(state.model_path))
        elif state.action == QuantAction.REQUEST_ACCESS:
            open_url(f"{self.ctx_endpoint()}/{self.detail.repo_id}")

    def request_download(self, quant: Quant) -> None:
        if self.detail is None:
            return
        repo_id = self.detail.repo_id
        self.download_requested.emit(repo_id, quant)
        try:
            # The app's one queue; a Download click starts it if it has not started yet (viewing never does).
            self.ctx.downloads.enqueue(repo_id, list(quant.paths))
            projector = default_projector(self.detail.mmproj)
            if projector is not None and self.with_projector.isChecked():
                self.ctx.downloads.enqueue(repo_id, list(projector.paths))  # its own item, beside the quant
        except AppError as exc:
            self._note(error_html(exc), error=True)
            return
        self.refresh_states()
        self.ctx.messages.info(f"Queued {quant.label} of {repo_id} ({human_size(quant.size)})")

    # helpers ---------------------------------------------------------------------------------------------------
    def _fit_table_height(self) -> None:
        """As tall as its rows (between 3 and 9 visible), so the ladder gets the rest."""
        rows = min(max(self.model.rowCount(), 3), 9)
        header = self.table.horizontalHeader().sizeHint().height()
        body = rows * self.table.verticalHeader().defaultSectionSize()
        self.table.setFixedHeight(header + body + 2 * self.table.frameWidth() + 2)

    @staticmethod
    def ctx_endpoint() -> str:
        from app.core.hubenv import hub_endpoint

        return hub_endpoint()

    def _note(self, text: str, error: bool = False) -> None:
        self.notice.setProperty("level", "error" if error else "info")
        self.notice.style().unpolish(self.notice)
        self.notice.style().polish(self.notice)
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
