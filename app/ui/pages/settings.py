"""Settings: models folder, library folders, threads, theme, downloads, and the Hugging Face account."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
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
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core import paths
from app.core.errors import AppError
from app.core.settings import THEMES, Preferences
from app.ui.context import AppContext
from app.ui.pages.settings_account import AccountBox
from app.ui.theme import apply_theme
from app.ui.widgets.page_header import PAGE_MARGINS, page_title

log = logging.getLogger("app.ui.settings")


class SettingsPage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.settings = ctx.settings
        values = self.settings.values

        title = page_title("Settings")

        # models ------------------------------------------------------------------------------------------
        self.models_dir = QLineEdit(str(self.settings.models_path()))
        self.models_dir.setToolTip("Downloads land here as <publisher>/<repo>/<file>, the layout LM Studio uses")
        self.models_dir.editingFinished.connect(self._models_dir_edited)
        browse = QPushButton("Browse…")
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
        for spin in (self.threads, self.context, self.parallel):
            spin.setMaximumWidth(180)
        engine_box = QGroupBox("Performance")
        engine_form = QFormLayout(engine_box)
        engine_form.addRow("CPU threads", self.threads)
        engine_form.addRow("Default context length", self.context)
        engine_form.addRow("Parallel downloads", self.parallel)

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
        if text != str(self.settings.models_path()):
            self._update(models_dir=text)

    def _browse_models_dir(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Models folder", str(self.settings.models_path()))
        if chosen:
            self.models_dir.setText(chosen)
            self._update(models_dir=chosen)

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
