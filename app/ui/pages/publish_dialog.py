"""The Library's "Publish…" dialog: choose quants of one model and a repository, read and edit the model card
before it goes out, then publish with progress, speed, time left and cancel. The upload runs in a child
process (app.share.job); a repository with other content is asked about, not overwritten silently."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError, Cancelled, RepoConflictError
from app.core.names import display_name
from app.core.units import format_bytes, format_duration, format_rate
from app.downloads.speed import SpeedMeter, eta_seconds
from app.library.entries import LibraryEntry
from app.share.publish import PublishProgress, PublishRequest, PublishResult, check_repo_id
from app.ui.models.library_table import LibraryTableModel
from app.ui.tasks import Task, TaskControl, run_task

STAGES = {"check": "Checking access", "split": "Splitting", "hash": "Hashing", "upload": "Uploading",
          "commit": "Committing", "done": "Published"}


def _draft(_control: TaskControl, request: PublishRequest) -> tuple[str, str | None]:
    """The card, and the signed-in account (for a default repository name; None when not signed in)."""
    from app.share.publish import draft_card

    user = None
    try:
        from app.hub.auth import whoami

        user = whoami().name
    except AppError:
        pass
    return draft_card(request), user


def _publish(control: TaskControl, request: PublishRequest) -> PublishResult:
    from app.share.job import run_publish_job

    return run_publish_job(request, progress=control.report, cancel=control.cancelled)


def default_repo_name(path: Path) -> str:
    """`Tiny-Q8_0.gguf` → `Tiny-GGUF` (the name gguf-my-repo and most publishers use)."""
    from app.gguf.naming import parse_split, quant_label

    split = parse_split(path.name)
    stem = split.stem if split is not None else path.name.removesuffix(".gguf")
    label = quant_label(path.name)
    if label and stem.upper().endswith(label):
        stem = stem[: -len(label)].rstrip("-_.")
    return f"{stem}-GGUF"


class PublishDialog(QDialog):
    published = Signal(object)  # PublishResult
    card_ready = Signal()

    def __init__(self, files: list[Path], candidates: list[Path] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Publish to the Hugging Face Hub")
        self.resize(860, 720)
        self._task: Task | None = None
        self._draft_task: Task | None = None
        self._meter = SpeedMeter()
        self._stage = ""
        self._started = 0.0
        self._card_edited = False

        self.files = QListWidget()
        self.files.setMaximumHeight(110)
        for path in dict.fromkeys([*files, *(candidates or [])]):
            item = QListWidgetItem(f"{display_name(path.name)}   {format_bytes(path.stat().st_size)}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if path in files else Qt.CheckState.Unchecked)
            self.files.addItem(item)
        self.files.itemChanged.connect(lambda _item: self._files_changed())
        self.repo = QLineEdit()
        self.repo.setPlaceholderText("USER/NAME")
        self._default_name = default_repo_name(files[0]) if files else "Model-GGUF"
        self.private = QCheckBox("Private repository")
        self.base_model = QLineEdit()
        self.base_model.setPlaceholderText("the source model on the Hub, e.g. google/gemma-3-270m (optional)")
        self.message = QLineEdit()
        self.message.setPlaceholderText("commit message (optional)")

        form = QFormLayout()
        form.addRow("Files", self.files)
        form.addRow("Repository", self.repo)
        form.addRow("", self.private)
        form.addRow("Base model", self.base_model)
        form.addRow("Message", self.message)

        self.card = QPlainTextEdit()
        self.card.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.card.setPlaceholderText("Writing the model card…")
        self.card.textChanged.connect(self._card_changed)
        self.regenerate = QPushButton("Regenerate card")
        self.regenerate.clicked.connect(self.draft)
        card_head = QHBoxLayout()
        card_head.addWidget(QLabel("Model card (README.md), as it will be published — edit freely"), 1)
        card_head.addWidget(self.regenerate)
        self.rendered = QTextBrowser()
        self.rendered.setOpenExternalLinks(True)
        self.card_tabs = QTabWidget()
        self.card_tabs.addTab(self.card, "Markdown")
        self.card_tabs.addTab(self.rendered, "Preview")
        self.card_tabs.currentChanged.connect(self._render)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox()
        self.publish_button = self.buttons.addButton("Publish", QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.publish_button.clicked.connect(lambda: self.start())
        self.close_button.clicked.connect(self._close_or_cancel)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(card_head)
        layout.addWidget(self.card_tabs, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.draft()

    # --- the request ------------------------------------------------------------------------------------------
    def chosen_files(self) -> list[Path]:
        items = (self.files.item(i) for i in range(self.files.count()))
        return [it.data(Qt.ItemDataRole.UserRole) for it in items if it.checkState() == Qt.CheckState.Checked]

    def request(self, *, overwrite: bool = False, with_card: bool = True) -> PublishRequest:
        repo = self.repo.text().strip() or f"you/{self._default_name}"
        return PublishRequest(
            files=tuple(self.chosen_files()),
            repo_id=repo,
            private=self.private.isChecked(),
            message=self.message.text().strip() or None,
            overwrite=overwrite,
            base_model=self.base_model.text().strip() or None,
            card=self.card.toPlainText() if with_card and self.card.toPlainText().strip() else None,
        )

    # --- the card ---------------------------------------------------------------------------------------------
    def draft(self) -> None:
        if not self.chosen_files():
            self.status.setText("Choose at least one file.")
            return
        self.regenerate.setEnabled(False)
        self._draft_task = task = run_task(_draft, self.request(with_card=False), name="model card")
        task.finished.connect(lambda result, t=task: self._on_draft(t, result))
        task.failed.connect(lambda error, t=task: self._on_draft_failed(t, error))

    def _on_draft(self, task: Task, result: tuple[str, str | None]) -> None:
        if task is not self._draft_task:
            return
        self._draft_task = None
        text, user = result
        self.regenerate.setEnabled(True)
        self.card.blockSignals(True)
        self.card.setPlainText(text)
        self.card.blockSignals(False)
        self._card_edited = False
        if not self.repo.text().strip():
            self.repo.setText(f"{user}/{self._default_name}" if user else "")
            if not user:
                self.status.setText("Sign in with a write token in Settings to publish.")
        self.card_ready.emit()

    def _on_draft_failed(self, task: Task, error: object) -> None:
        if task is self._draft_task:
            self._draft_task = None
            self.regenerate.setEnabled(True)
            self.status.setText(f"Cannot write the card: {error}")

    def _render(self, *_args: object) -> None:
        text = self.card.toPlainText()
        if text.startswith("---"):  # the front matter is for the Hub, not shown on the model page
            end = text.find("\n---", 3)
            text = text[end + 4 :] if end >= 0 else text
        self.rendered.setMarkdown(text)

    def _card_changed(self) -> None:
        self._card_edited = True

    def _files_changed(self) -> None:
        if not self._card_edited or QMessageBox.question(
            self, "Model card", "The files changed. Write the card again (your edits are lost)?"
        ) == QMessageBox.StandardButton.Yes:
            self.draft()

    # --- publishing -------------------------------------------------------------------------------------------
    def start(self, overwrite: bool = False) -> Task | None:
        try:
            check_repo_id(self.repo.text().strip())
        except AppError as exc:
            self.status.setText(str(exc))
            return None
        if not self.chosen_files():
            self.status.setText("Choose at least one file.")
            return None
        self._set_busy(True)
        self._meter.reset(0)
        self._started = time.monotonic()
        self._task = task = run_task(_publish, self.request(overwrite=overwrite), name="publish")
        task.progress.connect(lambda event, t=task: self._on_progress(event) if t is self._task else None)
        task.finished.connect(lambda result, t=task: self._on_published(result) if t is self._task else None)
        task.failed.connect(lambda error, t=task: self._on_failed(error) if t is self._task else None)
        return task

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.files, self.repo, self.private, self.base_model, self.message, self.card, self.regenerate):
            widget.setEnabled(not busy)
        self.publish_button.setEnabled(not busy)
        self.close_button.setText("Cancel" if busy else "Close")
        self.progress.setVisible(busy)

    def _on_progress(self, event: PublishProgress) -> None:
        if event.stage != self._stage:
            self._stage = event.stage
            self._meter.reset(event.done)
        what = STAGES.get(event.stage, event.stage)
        if event.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * event.done / event.total))
            speed = self._meter.sample(event.done)
            eta = eta_seconds(event.done, event.total, speed)
            left = f", {format_duration(eta)} left" if eta is not None and event.done < event.total else ""
            name = f" {display_name(event.file)}" if event.file else ""
            self.status.setText(
                f"{what}{name}: {format_bytes(event.done)} of {format_bytes(event.total)} · {format_rate(speed)}{left}"
            )
        else:
            self.progress.setRange(0, 0)
            self.status.setText(f"{what}…")

    def _on_published(self, result: PublishResult) -> None:
        self._task = None
        self._set_busy(False)
        self.publish_button.setEnabled(False)
        already = result.total_bytes - result.sent_bytes
        note = f" ({format_bytes(already)} were already there)" if already > 0 else ""
        self.status.setText(f"Published {len(result.files)} files to {result.url}{note}")
        self.published.emit(result)

    def _on_failed(self, error: object) -> None:
        self._task = None
        self._set_busy(False)
        if isinstance(error, RepoConflictError):
            answer = QMessageBox.question(
                self,
                "Repository exists",
                f"{error.message}.\n\nPublish into it anyway? The files are added and its README is replaced.",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.start(overwrite=True)
                return
        if isinstance(error, Cancelled):
            self.status.setText("Cancelled. Publish again to resume: what the Hub already holds is not sent again.")
            return
        self.status.setText(display_name(str(error)))

    def _close_or_cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.status.setText("Cancelling…")
            return
        self.reject()

    def done(self, result: int) -> None:
        # Closed (and maybe deleted) with work under way: results that come later find nothing to update.
        self._draft_task = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        super().done(result)


class _Library(Protocol):
    """What the action needs of the Library page (which imports this module: no import back)."""

    toolbar: QToolBar
    table: QTableView
    model: LibraryTableModel
    _row_actions: Any

    def selected_entry(self) -> LibraryEntry | None: ...

    def rescan(self) -> None: ...


def add_publish_action(page: _Library) -> None:
    """The Library page's "Publish…" action (toolbar and row menu): the selected quant, with the other quants
    of the same model in its folder offered beside it."""
    assert isinstance(page, QWidget)
    action = page.toolbar.addAction("Publish…")
    action.setToolTip("Publish quants of this model to the Hugging Face Hub with a model card")

    def open_dialog() -> None:
        entry = page.selected_entry()
        if entry is None or not entry.usable:
            return
        def model_of(e: LibraryEntry) -> tuple[str | None, str | None]:
            return (e.summary.architecture, e.summary.name) if e.summary else (None, None)

        same = [
            e.path
            for e in page.model.entries()
            if e.usable and e.folder == entry.folder and e.path != entry.path and model_of(e) == model_of(entry)
        ]
        dialog = PublishDialog([entry.path], same, page if isinstance(page, QWidget) else None)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        page.publish_dialog = dialog  # type: ignore[attr-defined]
        dialog.open()

    def update() -> None:
        entry = page.selected_entry()
        action.setEnabled(entry is not None and entry.usable)

    action.triggered.connect(open_dialog)
    page.table.selectionModel().selectionChanged.connect(lambda *_: update())
    page.model.modelReset.connect(update)
    page._row_actions = (*page._row_actions, action)  # the row menu too
    page.publish_action = action  # type: ignore[attr-defined]
    update()
    from app.ui.pages.split_actions import add_split_actions

    page.split_action, page.merge_action = add_split_actions(page, page.toolbar)  # type: ignore[attr-defined]
