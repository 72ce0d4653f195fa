"""Settings: models folder, library folders, threads, theme, downloads, and the Hugging Face account."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core import paths
from app.core.errors import AppError
from app.core.settings import THEMES, Preferences
from app.core.units import format_bytes
from app.library.relocate import FolderContents, MoveResult
from app.ui.context import AppContext
from app.ui.pages.settings_account import AccountBox
from app.ui.tasks import Task, TaskControl, run_task
from app.ui.theme import apply_theme
from app.ui.widgets.page_header import PAGE_MARGINS, page_title

log = logging.getLogger("app.ui.settings")

MOVE, KEEP = "move", "keep"


def ask_models_dir_change(parent: QWidget, old: Path, new: Path, contents: FolderContents) -> str | None:
    """MOVE, KEEP or None (cancel). Tests replace this."""
    box = QMessageBox(parent)
    box.setWindowTitle("Change the models folder")
    box.setText(
        f"{old} holds {contents.files} model file(s), {format_bytes(contents.size)}.\n\n"
        f"Move them to {new}, or keep them where they are?"
    )
    box.setInformativeText(
        "Either way the Library still lists them: kept models stay in their folder, which is added "
        "under Also scan. New and queued downloads go to the new folder; one already running finishes "
        "first, then follows the models (or stays with the kept ones)."
    )
    move = box.addButton("Move them", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Keep them where they are", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.exec()
    clicked = box.clickedButton()
    return MOVE if clicked is move else KEEP if clicked is keep else None


def _contents(_control: TaskControl, folder: Path) -> FolderContents:
    from app.library.relocate import folder_contents

    return folder_contents(folder) if folder.is_dir() else FolderContents(0, 0)


def _move(_control: TaskControl, old: Path, new: Path) -> MoveResult:
    from app.library.relocate import move_models

    return move_models(old, new)


class SettingsPage(QWidget):
    models_dir_settled = Signal(object)  # the models folder after a change was asked for (Path)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._models_task: Task | None = None
        self._models_change: tuple[Path, Path] | None = None  # (old, new) while a change is being decided
        self.settings = ctx.settings
        values = self.settings.values

        title = page_title("Settings")

        # models ------------------------------------------------------------------------------------------
        self.models_dir = QLineEdit(str(self.settings.models_path()))
        self.models_dir.setToolTip(
            "Downloads land here as <publisher>/<repo>/<file>, the layout LM Studio uses. Changing it asks whether"
            " to move the models already here or keep them listed where they are."
        )
        self.models_dir.editingFinished.connect(self._models_dir_edited)
        browse = self.browse_models = QPushButton("Browse…")
        browse.clicked.connect(self._browse_models_dir)
        models_row = QHBoxLayout()
        models_row.addWidget(self.models_dir, 1)
        models_row.addWidget(browse)

        self.library_folders = QListWidget()
        self.library_folders.addItems(list(values.library_folders))
        self.library_folders.setMaximumHeight(90)
        add_folder = QPushButton("Add folder…")
        add_folder.clicked.connect(self._add_library_folder)
        remove_folder = QPushButton("Remove")
        remove_folder.clicked.connect(self._remove_library_folder)
        folder_buttons = QVBoxLayout()
        folder_buttons.addWidget(add_folder)
        folder_buttons.addWidget(remove_folder)
        folder_buttons.addStretch(1)
        folders_row = QHBoxLayout()
        folders_row.addWidget(self.library_folders, 1)
        folders_row.addLayout(folder_buttons)

        models_box = QGroupBox("Models")
        models_form = QFormLayout(models_box)
        models_form.addRow("Models folder", models_row)
        models_form.addRow("Also scan", folders_row)

        # performance ---------------------------------------------------------------------------------------
        self.threads = QSpinBox()
        self.threads.setRange(0, 512)
        self.threads.setSpecialValueText("Automatic")
        self.threads.setValue(values.threads)
        self.threads.valueChanged.connect(lambda v: self._update(threads=v))
        self.context = QSpinBox()
        self.context.setRange(256, 1 << 21)
        self.context.setSingleStep(1024)
        self.context.setValue(values.default_context)
        self.context.valueChanged.connect(lambda v: self._update(default_context=v))
        self.parallel = QSpinBox()
        self.parallel.setRange(1, 8)
        self.parallel.setValue(values.download_parallel)
        self.parallel.valueChanged.connect(lambda v: self._update(download_parallel=v))
        self.segments = QSpinBox()
        self.segments.setRange(1, 16)
        self.segments.setValue(values.download_segments)
        self.segments.setToolTip(
            "Large files are fetched over up to this many connections at once (fewer for small files): each "
            "starts on two and gets more while more connections raise the speed, as where a server or link "
            "limits each connection"
        )
        self.segments.valueChanged.connect(lambda v: self._update(download_segments=v))
        for spin in (self.threads, self.context, self.parallel, self.segments):
            spin.setMaximumWidth(180)
        engine_box = QGroupBox("Performance")
        engine_form = QFormLayout(engine_box)
        engine_form.addRow("CPU threads", self.threads)
        engine_form.addRow("Default context length", self.context)
        engine_form.addRow("Parallel downloads", self.parallel)
        engine_form.addRow("Connections per download", self.segments)

        # appearance ---------------------------------------------------------------------------------------
        self.theme = QComboBox()
        for name in THEMES:
            self.theme.addItem({"system": "Follow the system"}.get(name, name.capitalize()), name)
        self.theme.setCurrentIndex(THEMES.index(values.theme))
        self.theme.currentIndexChanged.connect(self._theme_changed)
        self.theme.setMaximumWidth(260)
        look_box = QGroupBox("Appearance")
        look_form = QFormLayout(look_box)
        look_form.addRow("Theme", self.theme)

        # about --------------------------------------------------------------------------------------------
        about_box = QGroupBox("Files")
        about_form = QFormLayout(about_box)
        for label, path in (
            ("Settings", paths.settings_file()),
            ("Log file", paths.log_file()),
            ("Cache", paths.cache_dir()),
        ):
            value = QLabel(str(path))
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            about_form.addRow(label, value)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(*PAGE_MARGINS)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(models_box)
        layout.addWidget(self._account_box())
        layout.addWidget(self._remote_box())
        layout.addWidget(engine_box)
        layout.addWidget(look_box)
        layout.addWidget(about_box)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def _remote_box(self) -> QWidget:
        from app.ui.pages.settings_remote import RemoteBox

        box = QGroupBox("Remote engines")
        layout = QVBoxLayout(box)
        self.remote = RemoteBox()
        layout.addWidget(self.remote)
        return box

    def _account_box(self) -> QWidget:
        box = QGroupBox("Hugging Face account")
        layout = QVBoxLayout(box)
        layout.addWidget(AccountBox(self.ctx))
        return box

    def _update(self, **changes: Any) -> Preferences | None:
        try:
            return self.settings.update(**changes)
        except AppError as exc:
            self.ctx.messages.error(str(exc))
            return None

    def _models_dir_edited(self) -> None:
        text = self.models_dir.text().strip()
        if text and text != str(self.settings.models_path()):
            self.change_models_dir(Path(text).expanduser())

    def _browse_models_dir(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Models folder", str(self.settings.models_path()))
        if chosen:
            self.models_dir.setText(chosen)
            self.change_models_dir(Path(chosen))

    # a new models folder: never applied before the models already there are moved or kept in the library --
    def change_models_dir(self, new: Path) -> None:
        if self._models_task is not None:
            return  # editingFinished fires again when the question takes the focus
        old = self.settings.models_path()
        if new == old:
            return
        self._set_models_busy(True)
        self._models_change = (old, new)
        task = self._models_task = run_task(_contents, old, name="models folder contents")
        task.finished.connect(self._decide)  # bound methods: Qt drops them if the page goes first
        task.failed.connect(self._models_failed)

    def _decide(self, contents: FolderContents) -> None:
        self._models_task = None
        assert self._models_change is not None
        old, new = self._models_change
        if not contents.files:
            self._apply_models_dir(new, keep=None)
            return
        choice = ask_models_dir_change(self, old, new, contents)
        if choice is None:
            self._settle()
        elif choice == KEEP:
            self._apply_models_dir(new, keep=old)
        else:
            task = self._models_task = run_task(_move, old, new, name="move models")
            task.finished.connect(self._moved)
            task.failed.connect(self._models_failed)

    def _moved(self, result: MoveResult) -> None:
        self._models_task = None
        assert self._models_change is not None
        old, new = self._models_change
        if result.left:
            self.ctx.messages.warning(
                f"Moved {result.moved} file(s) to {new}; {len(result.left)} could not move and stay listed from "
                f"{old} (see the log)"
            )
        else:
            self.ctx.messages.info(f"Moved {result.moved} file(s) to {new}")
        self._apply_models_dir(new, keep=old if result.left else None)

    def _models_failed(self, error: BaseException) -> None:
        self._models_task = None
        self.ctx.messages.error(f"The models folder was not changed: {error}")
        self._settle()

    def _apply_models_dir(self, new: Path, keep: Path | None) -> None:
        folders = self.settings.values.library_folders
        if keep is not None and str(keep) not in folders:
            folders = (*folders, str(keep))
        if self._update(models_dir=str(new), library_folders=folders) is not None:
            self.library_folders.clear()
            self.library_folders.addItems(list(folders))
        self._settle()

    def _settle(self) -> None:
        self._models_change = None
        self.models_dir.setText(str(self.settings.models_path()))
        self._set_models_busy(False)
        self.models_dir_settled.emit(self.settings.models_path())

    def _set_models_busy(self, busy: bool) -> None:
        self.models_dir.setEnabled(not busy)
        self.browse_models.setEnabled(not busy)

    def _add_library_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Add a folder with GGUF models")
        if chosen and chosen not in self.settings.values.library_folders:
            self.library_folders.addItem(chosen)
            self._update(library_folders=(*self.settings.values.library_folders, chosen))

    def _remove_library_folder(self) -> None:
        item = self.library_folders.currentItem()
        if item is None:
            return
        remaining = tuple(f for f in self.settings.values.library_folders if f != item.text())
        self.library_folders.takeItem(self.library_folders.row(item))
        self._update(library_folders=remaining)

    def _theme_changed(self) -> None:
        choice = self.theme.currentData()
        if self._update(theme=choice) is not None:
            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, choice)
