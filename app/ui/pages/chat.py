"""The Chat page: conversations, the message column, the load panel, and the engine process behind them.

Tokens arrive as queued signals; they are collected and painted by a 50 ms timer, so a fast model never
floods the event loop. The reply is saved as it grows (history.ReplyWriter); if the engine dies the page
shows an error with Reload, and the conversation keeps what was streamed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.chat import protocol as p
from app.chat.client import error_from
from app.chat.history import Conversation, History, ReplyWriter, Version
from app.chat.prefs import PRESETS, ChatPrefs, load_prefs, remember, remembered_settings, sampling_for, save_prefs
from app.chat.projector import projector_for
from app.chat.templates import AUTO, BUILTIN_TEMPLATES, RAW, suggested_builtin
from app.core.atomic import write_text_atomic
from app.core.errors import AppError, Cancelled
from app.ui.context import AppContext
from app.ui.models.chat_conversations import ConversationListModel
from app.ui.pages.chat_attach import AttachmentTray, show_media
from app.ui.pages.chat_engine import EngineBridge
from app.ui.pages.chat_load import LoadPanel
from app.ui.pages.chat_messages import MessageList, MessageWidget
from app.ui.pages.chat_move import MoveToServer

log = logging.getLogger("app.ui.chat")

FLUSH_INTERVAL_MS = 100  # ≤ 10 Hz: each flush re-renders the whole reply as markdown
TEMPLATE_CHOICES = [
    (AUTO, "Model's template"),
    *((name, f"Built-in: {name}") for name in BUILTIN_TEMPLATES),
    (RAW, "Raw completion (no template)"),
]
RAW_NOTE = (
    "Raw completion: this model has no chat template, so it continues the text of the conversation "
    "instead of answering turn by turn. Pick a built-in chat format in the template menu to chat."
)
POLICIES = [("drop_oldest", "When full: drop oldest turns"), ("stop", "When full: stop")]
SHARED_NOTE = (
    "The local API server (Server page) has this model loaded: the chat uses a sequence of its engine instead "
    "of a second copy in memory, beside the API's requests. The server's load settings apply."
)


class _Banner(QFrame):
    """An in-page message with optional action buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout = QHBoxLayout(self)
        self._layout.addWidget(self.label, 1)
        self._buttons: list[QPushButton] = []
        self.hide()

    def show_text(self, text: str, actions: tuple[tuple[str, Any], ...] = (), *, error: bool = True) -> None:
        for button in self._buttons:
            self._layout.removeWidget(button)
            button.hide()  # gone now, not when the event loop deletes it
            button.deleteLater()
        self._buttons = []
        self.setStyleSheet(
            "_Banner { background-color: rgba(217, 48, 37, 40); }"
            if error
            else "_Banner { background-color: rgba(91, 141, 239, 40); }"
        )
        self.label.setText(text)
        for title, slot in (*actions, ("Dismiss", self.hide)):
            button = QPushButton(title, self)
            button.clicked.connect(slot)
            self._layout.addWidget(button)
            self._buttons.append(button)
        self.show()

    def button(self, title: str) -> QPushButton | None:
        return next((b for b in self._buttons if b.text() == title), None)


class ChatPage(QWidget):
    replyFinished = Signal(object)  # protocol.Done, after it is saved and shown
    replyEnded = Signal()  # after every reply, also one that ended without a Done (stopped while rendering, error)
    modelLoaded = Signal(object)  # protocol.ModelInfo
    engineFailed = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.prefs: ChatPrefs = load_prefs()
        self.history = History()
        self.engine = EngineBridge(self, ctx.local_server)
        self.engine.received.connect(self._on_event)
        self.model_info: p.ModelInfo | None = None
        self.conversation: Conversation | None = None
        self._loading = False
        self._load_request: tuple[str, p.EngineSettings] | None = None
        self._request_id = 0
        self._writer: ReplyWriter | None = None
        self._stream_widget: MessageWidget | None = None
        self._stream_text: list[str] = []
        self._first_token_at = 0.0
        self._dirty = False
        self._editing_id: int | None = None
        self._auto_raw = False  # raw completion was chosen for a model without a template, not by the user
        self._reply_template = AUTO
        self._pending_send = False  # Send loaded the conversation's model: send when it is loaded
        self._stream_tokens = 0
        self.last_stats: p.Stats | None = None
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._build()
        self.load_panel.remembered = lambda path: remembered_settings(self.prefs, path)
        self.reload_conversations()
        self._mover = MoveToServer(self)  # to the local server's engine when it starts
        if self.prefs.model_path and Path(self.prefs.model_path).is_file():
            self.load_panel.add_model_path(self.prefs.model_path)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        # Conversations column
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations…")
        self.search.setClearButtonEnabled(True)
        self.conversations = ConversationListModel(self)
        self.conversation_view = QListView()
        self.conversation_view.setModel(self.conversations)
        self.conversation_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.conversation_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.new_button = QPushButton("New chat")
        self.rename_button = QToolButton()
        self.rename_button.setText("Rename")
        self.delete_button = QToolButton()
        self.delete_button.setText("Delete")
        self.export_button = QToolButton()
        self.export_button.setText("Export…")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.new_button)
        left_layout.addWidget(self.search)
        left_layout.addWidget(self.conversation_view, 1)
        row = QHBoxLayout()
        for button in (self.rename_button, self.delete_button, self.export_button):
            row.addWidget(button)
        left_layout.addLayout(row)

        # Top bar: model status, load panel toggle, speed and context meter
        self.model_label = QLabel("No model loaded")
        self.model_toggle = QToolButton()
        self.model_toggle.setText("Model ▾")
        self.model_toggle.setCheckable(True)
        self.model_toggle.setChecked(True)
        self.unload_button = QToolButton()
        self.unload_button.setText("Unload")
        self.unload_button.setToolTip("Free the memory the model takes (the conversation stays)")
        self.unload_button.setEnabled(False)
        self.speed_label = QLabel("")
        self.context_meter = QProgressBar()
        self.context_meter.setFormat("context: no model")
        self.context_meter.setRange(0, 1)
        self.context_meter.setValue(0)
        self.context_meter.setMinimumWidth(200)
        self.context_meter.setToolTip("Tokens of the context in use after the last reply")
        top = QHBoxLayout()
        top.addWidget(self.model_toggle)
        top.addWidget(self.model_label, 1)
        top.addWidget(self.unload_button)
        top.addWidget(self.speed_label)
        top.addWidget(self.context_meter)

        self.load_panel = LoadPanel(self.ctx)
        self.load_panel.set_settings(self.prefs.engine)
        self.banner = _Banner()
        self.messages = MessageList()

        # Composer: system prompt, options, input
        self.system_prompt = QLineEdit()
        self.system_prompt.setPlaceholderText("System prompt (optional)")
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setCurrentText(self.prefs.preset)
        self.preset.setToolTip("Sampling preset")
        self.template = QComboBox()
        for key, title in TEMPLATE_CHOICES:
            self.template.addItem(title, key)
        self.template.setCurrentIndex(max(0, self.template.findData(self.prefs.template)))
        self.template.setToolTip("How the conversation is turned into a prompt")
        self.policy = QComboBox()
        for key, title in POLICIES:
            self.policy.addItem(title, key)
        self.policy.setCurrentIndex(max(0, self.policy.findData(self.prefs.context_policy)))
        self.policy.setToolTip("What happens when the conversation no longer fits the context")
        options = QHBoxLayout()
        options.addWidget(self.system_prompt, 1)
        options.addWidget(self.preset)
        options.addWidget(self.template)
        options.addWidget(self.policy)
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("Message (Ctrl+Enter to send)")
        self.input.setMaximumHeight(90)
        self.attachments = AttachmentTray(self.input, self)  # images and audio: button, paste, drop
        self.editing_label = QLabel("")
        self.editing_label.setVisible(False)
        self.send_button = QPushButton("Send")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setVisible(False)
        composer = QHBoxLayout()
        composer.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.attachments.attach_button)
        buttons.addStretch(1)
        composer.addLayout(buttons)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(top)
        right_layout.addWidget(self.load_panel)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.messages, 1)
        right_layout.addLayout(options)
        right_layout.addWidget(self.editing_label)
        right_layout.addWidget(self.attachments)
        right_layout.addLayout(composer)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 800])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.model_toggle.toggled.connect(self.load_panel.setVisible)
        self.load_panel.loadRequested.connect(self.load_model)
        self.load_panel.cancelRequested.connect(self.engine.stop)
        self.unload_button.clicked.connect(self.unload_model)
        self.search.textChanged.connect(lambda _text: self.reload_conversations())
        self.conversation_view.selectionModel().currentChanged.connect(
            lambda current, _previous: self._open_row(current.row())
        )
        self.new_button.clicked.connect(self.new_conversation)
        self.rename_button.clicked.connect(self._rename_clicked)
        self.delete_button.clicked.connect(self._delete_clicked)
        self.export_button.clicked.connect(self._export_clicked)
        self.send_button.clicked.connect(self.send)
        self.attachments.failed.connect(self._show_error)
        self.stop_button.clicked.connect(self.stop)
        self.system_prompt.editingFinished.connect(self._save_conversation_settings)
        for combo in (self.preset, self.template, self.policy):
            combo.currentIndexChanged.connect(self._options_changed)
        from PySide6.QtGui import QKeySequence, QShortcut

        QShortcut(QKeySequence("Ctrl+Return"), self.input, self.send)

    # ------------------------------------------------------------------ navigation entry points

    def open_with(self, model: str | None = None, **_kwargs: Any) -> None:
        if model:
            self.load_panel.add_model_path(str(model))
            self.model_toggle.setChecked(True)

    def shutdown(self) -> None:
        self._flush_timer.stop()
        if self._writer is not None:
            self._flush()
            self._writer.abandon()
            self._writer = None
        self.engine.close()
        self.history.close()

    # ------------------------------------------------------------------ engine

    @property
    def streaming(self) -> bool:
        return self._writer is not None

    @property
    def loading(self) -> bool:
        return self._loading

    @property
    def load_request(self) -> tuple[str, p.EngineSettings] | None:
        """The model and settings loaded last (or loading now)."""
        return self._load_request

    def load_model(self, path: str, settings: p.EngineSettings) -> None:
        if self.streaming:
            self.stop()
        self._loading = True
        self._load_request = (path, settings)
        self.banner.hide()
        self.load_panel.set_loading(True)
        self.model_label.setText(f"Loading {Path(path).name}…")
        try:
            self.engine.load(path, settings)
        except Exception as exc:  # the process could not even start
            self._loading = False
            self.load_panel.set_loading(False)
            self._show_error(f"The chat engine could not start: {exc}")
            return
        self.prefs = remember(self.prefs, path, settings)
        save_prefs(self.prefs)
        if Path(path).is_file() and self.load_panel.model_combo.currentData() != path:
            self.load_panel.add_model_path(path)  # the panel shows what is loaded, with these settings

    def reload_model(self) -> None:
        if self._load_request is not None:
            self.load_model(*self._load_request)

    def unload_model(self) -> None:
        if self.streaming:
            self.stop()
        self.engine.unload()
        self.model_info = None
        self._pending_send = False
        self.unload_button.setEnabled(False)
        self.model_label.setText("No model loaded")
        self.speed_label.setText("")
        self.context_meter.setRange(0, 1)
        self.context_meter.setValue(0)
        self.context_meter.setFormat("context: no model")
        self._update_template_choice()
        self.model_toggle.setChecked(True)

    def settings_for(self, path: str) -> p.EngineSettings:
        """How `path` loads without the panel: as it was loaded last, else as the panel would load it."""
        remembered = remembered_settings(self.prefs, path)
        if remembered is not None:
            return remembered
        panel = self.load_panel
        if panel.model is not None and panel.model.path == path:
            return panel.settings()
        return p.EngineSettings(n_ctx=int(self.ctx.settings.values.default_context),
                                n_threads=int(self.ctx.settings.values.threads),
                                mmproj=projector_for(path))  # a vision model: with its projector

    def _on_event(self, event: Any) -> None:
        if isinstance(event, p.Token):
            if event.request_id == self._request_id and self._writer is not None:
                if not self._stream_text:
                    self._first_token_at = time.perf_counter()
                self._stream_text.append(event.text)
                self._stream_tokens = event.generated or self._stream_tokens + 1
                if event.context_used:
                    self.context_meter.setValue(min(event.context_used, self.context_meter.maximum()))
                self._writer.append(event.text)
                self._dirty = True
        elif isinstance(event, p.Done):
            if event.request_id == self._request_id:
                self._finish_reply(event)
        elif isinstance(event, p.LoadProgress):
            self.load_panel.set_loading(True, event.fraction)
        elif isinstance(event, p.Loaded):
            self._on_loaded(event.info)
        elif isinstance(event, p.Error):
            self._on_error(event)
        elif isinstance(event, p.Crashed):
            self._on_crashed(event)

    def _on_loaded(self, info: p.ModelInfo) -> None:
        self._loading = False
        self.model_info = info
        self.unload_button.setEnabled(True)
        self.load_panel.set_loading(False)
        self.model_toggle.setChecked(False)
        template = "its own chat template" if info.chat_template else "no chat template"
        shared = " · <i>shared with the local server</i>" if self.engine.shared else ""
        self.model_label.setText(f"<b>{info.description}</b> · context {info.n_ctx:,} · {template}{shared}")
        self.model_label.setToolTip(SHARED_NOTE if shared else "")
        self.context_meter.setRange(0, info.n_ctx)
        self.context_meter.setValue(0)
        self.context_meter.setFormat("context %v / %m")
        self._update_template_choice()
        self.modelLoaded.emit(info)
        if self._pending_send:
            self._pending_send = False
            self.send()

    def _update_template_choice(self) -> None:
        """Auto ("the model's template") is only offered for a model that has one. A model without one
        (a base model, mostly) gets raw completion at once, said in the banner and in the conversation,
        with its family's built-in chat format one click away: Send never does nothing."""
        info = self.model_info
        has_own = bool(info and info.chat_template)
        auto_index = self.template.findData(AUTO)
        item = self.template.model().item(auto_index)  # type: ignore[attr-defined]
        item.setEnabled(has_own or info is None)
        if info is None:
            return
        if has_own and self._auto_raw:
            self._auto_raw = False
            self._set_template_quietly(AUTO)
        elif not has_own and self.template.currentData() in (AUTO, None):
            self._auto_raw = True
            self._set_template_quietly(RAW)
            builtin = suggested_builtin(info.description)
            self.banner.show_text(
                f"{info.description} has no chat template, so it is probably a base model: it continues "
                "text rather than answering. Replies use raw completion (the template menu shows it). "
                "For chat turns, pick a built-in chat format.",
                ((f"Use {builtin}", lambda _c=False, n=builtin: self._choose_template(n)),),
                error=False,
            )

    def _set_template_quietly(self, key: str) -> None:
        """Shows the template in use without making it the remembered choice for every model."""
        self.template.blockSignals(True)
        self.template.setCurrentIndex(self.template.findData(key))
        self.template.blockSignals(False)

    def _template_for_send(self) -> str:
        current = self.template.currentData()
        if current is None or (current == AUTO and self.model_info is not None and not self.model_info.chat_template):
            self._update_template_choice()
            current = self.template.currentData() or RAW
        return str(current)

    def _base_model_banner_shown(self) -> bool:
        return self.banner.isVisible() and "has no chat template" in self.banner.label.text()

    def _choose_template(self, name: str) -> None:
        self._auto_raw = False
        self.template.setCurrentIndex(self.template.findData(name))
        self.banner.hide()

    def _on_error(self, event: p.Error) -> None:
        if self._loading and event.request_id is None:
            self._loading = False
            self._pending_send = False
            self.load_panel.set_loading(False)
            self.model_label.setText("No model loaded" if self.model_info is None else self.model_label.text())
            if isinstance(event.error, Cancelled):
                self.model_label.setText("Loading cancelled")
                return
            self._show_error(str(error_from(event)))
            return
        if event.request_id is not None and event.request_id == self._request_id:
            self._end_stream(keep=bool("".join(self._stream_text)))
            if isinstance(event.error, Cancelled):  # Stop before the first token (a slow template): no error
                self.speed_label.setText("stopped")
                return
        self._show_error(str(error_from(event)))

    def _on_crashed(self, event: p.Crashed) -> None:
        was_loading, self._loading = self._loading, False
        self._pending_send = False
        self.load_panel.set_loading(False)
        self.model_info = None
        self.unload_button.setEnabled(False)
        if self._writer is not None:
            self._flush()
            self._writer.abandon()
            self._writer = None
            self.replyEnded.emit()
        self._set_streaming(False)
        self.model_label.setText("The model could not be loaded" if was_loading else "The chat engine stopped")
        hint = f" ({event.hint})" if event.hint else ""
        # A model that stopped llama.cpp while loading would only stop it again: no Reload for that one.
        reload = (("Reload", self.reload_model),) if self._load_request and not was_loading else ()
        self._show_error(f"{event.message}{hint}. The conversation is saved.", reload)
        self.engineFailed.emit(event.message)

    def _show_error(self, text: str, actions: tuple[tuple[str, Any], ...] = ()) -> None:
        self.banner.show_text(text, actions, error=True)

    # ------------------------------------------------------------------ conversations

    def reload_conversations(self) -> None:
        current = self.conversation.id if self.conversation else None
        self.conversations.set_conversations(self.history.conversations(self.search.text().strip()))
        if current is not None:
            row = self.conversations.row_of(current)
            if row >= 0:
                self.conversation_view.selectionModel().blockSignals(True)
                self.conversation_view.setCurrentIndex(self.conversations.index(row))
                self.conversation_view.selectionModel().blockSignals(False)

    def _open_row(self, row: int) -> None:
        conversation = self.conversations.conversation(row)
        if conversation is not None and (self.conversation is None or conversation.id != self.conversation.id):
            self.open_conversation(conversation.id)

    def open_conversation(self, conversation_id: int) -> None:
        if self.streaming:
            self.stop()
        self.conversation = self.history.conversation(conversation_id)
        self.system_prompt.setText(self.conversation.system_prompt)
        options = self.conversation.settings
        if options.get("preset") in PRESETS:
            self.preset.setCurrentText(options["preset"])
        if "template" in options:
            self.template.setCurrentIndex(self.template.findData(options["template"]))
        if "context_policy" in options:
            self.policy.setCurrentIndex(max(0, self.policy.findData(options["context_policy"])))
        model = self._conversation_model()
        if self.model_info is None and model is not None and Path(model).is_file():
            self.load_panel.add_model_path(model)  # with its remembered settings
        if self.model_info is not None:
            self._update_template_choice()
        self._show_messages()

    def _conversation_model(self) -> str | None:
        """The model to load for Send without one: the conversation's, else the one chosen last."""
        from app.remote.refs import parse_remote_ref

        for path in (self.conversation.model_path if self.conversation else "", self.prefs.model_path):
            if path and (Path(path).is_file() or parse_remote_ref(path) is not None):
                return path
        return None

    def new_conversation(self) -> None:
        if self.streaming:
            self.stop()
        self.conversation = None
        self.conversation_view.clearSelection()
        self.messages.clear()
        self._cancel_edit()

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        self.history.rename(conversation_id, title)
        self.reload_conversations()

    def delete_conversation(self, conversation_id: int) -> None:
        if self.conversation is not None and self.conversation.id == conversation_id:
            self.new_conversation()
        self.history.delete(conversation_id)
        self.reload_conversations()

    def _selected(self) -> Conversation | None:
        return self.conversations.conversation(self.conversation_view.currentIndex().row()) or self.conversation

    def _rename_clicked(self) -> None:
        conversation = self._selected()
        if conversation is None:
            return
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title", text=conversation.title)
        if ok and title.strip():
            self.rename_conversation(conversation.id, title)

    def _delete_clicked(self) -> None:
        conversation = self._selected()
        if conversation is None:
            return
        answer = QMessageBox.question(self, "Delete conversation", f"Delete “{conversation.title}” for good?")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_conversation(conversation.id)

    def _export_clicked(self) -> None:
        conversation = self._selected()
        if conversation is None:
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export conversation", f"{conversation.title}.md", "Markdown (*.md);;JSON (*.json)"
        )
        if not path:
            return
        try:
            self.export_conversation(conversation.id, Path(path), json_format="JSON" in chosen)
        except (OSError, AppError) as exc:
            self.ctx.messages.error(f"Could not export the conversation to {path}: {exc}")

    def export_conversation(self, conversation_id: int, path: Path, *, json_format: bool = False) -> None:
        text = (
            self.history.export_json(conversation_id)
            if json_format or path.suffix == ".json"
            else self.history.export_markdown(conversation_id)
        )
        write_text_atomic(path, text)

    def _options_changed(self) -> None:
        template = self.template.currentData() or self.prefs.template
        self.prefs = dataclasses.replace(
            self.prefs, preset=self.preset.currentText(), template=template, context_policy=self.policy.currentData()
        )
        save_prefs(self.prefs)
        self._auto_raw = False  # the user chose: a later model keeps this choice
        if self._base_model_banner_shown():
            self.banner.hide()
        self._save_conversation_settings()

    def _save_conversation_settings(self) -> None:
        if self.conversation is None:
            return
        self.conversation = self.history.update(
            self.conversation.id, system_prompt=self.system_prompt.text(), settings=self._conversation_options()
        )

    def _conversation_options(self) -> dict[str, Any]:
        return {
            "preset": self.preset.currentText(),
            "template": AUTO if self._auto_raw else self.template.currentData(),
            "context_policy": self.policy.currentData(),
        }

    # ------------------------------------------------------------------ messages

    def _show_messages(self) -> None:
        self.messages.clear()
        if self.conversation is None:
            return
        stored = self.history.messages(self.conversation.id)
        last_assistant = max((m.id for m in stored if m.role == "assistant"), default=None)
        noted = False
        for message in stored:
            if message.stats and message.stats.get("template") == RAW and not noted:
                self.messages.add_note(RAW_NOTE)
                noted = True
            widget = self.messages.add(message.role, message.content, message.id)
            if message.media:
                show_media(widget, message.media)
            widget.editRequested.connect(self.edit_message)
            if message.stats:
                widget.set_stats(_stats_text(message.stats, message.complete))
            elif not message.complete:
                widget.set_stats("(interrupted)")
            widget.set_versions(message.variant, len(message.versions))
            widget.versionRequested.connect(self.show_version)
            if message.id == last_assistant:
                widget.regenerate_button.setVisible(True)
                widget.regenerateRequested.connect(self.regenerate)

    def send(self) -> None:
        if self.attachments.reading and not self.streaming:  # a file is still being read: send once it is in
            self.attachments.when_ready(self.send)
            return
        text = self.input.toPlainText().strip()
        media = self.attachments.parts()
        if (not text and not media) or self.streaming:
            return
        if self.model_info is None:
            self._load_for_send()
            return
        if self.conversation is None:
            title = " ".join(text.split())[:48] or (media[0].name if media else "") or "Image"
            self.conversation = self.history.create(
                title,
                model_path=self.model_info.path,
                system_prompt=self.system_prompt.text(),
                settings=self._conversation_options(),
            )
        if self._editing_id is not None:
            self.history.delete_from(self.conversation.id, self._editing_id)
            self._cancel_edit()
        self.history.add_message(self.conversation.id, "user", text, media=media)
        self.input.clear()
        self.attachments.clear()
        self._start_reply()
        self.reload_conversations()

    def _load_for_send(self) -> None:
        """Send without a model: load the conversation's (as it was loaded last) and send when it is up."""
        if self._loading:
            self._pending_send = True
            return
        path = self._conversation_model()
        if path is None:
            self._show_error("Load a model first (Model ▾).")
            return
        self._pending_send = True
        self.load_model(path, self.settings_for(path))

    def regenerate(self) -> None:
        """Answers again; the earlier answers stay as versions of the reply (‹ 1/2 ›)."""
        if self.streaming or self.conversation is None or self.model_info is None:
            return
        stored = self.history.messages(self.conversation.id)
        versions: tuple[Version, ...] = ()
        if stored and stored[-1].role == "assistant":
            versions = stored[-1].versions if stored[-1].content else stored[-1].alternatives
            self.history.delete_from(self.conversation.id, stored[-1].id)
        self._start_reply(versions)

    def show_version(self, message_id: int, index: int) -> None:
        if self.streaming or self.conversation is None:
            return
        self.history.show_version(message_id, index)
        self._show_messages()

    def edit_message(self, message_id: int) -> None:
        if self.streaming:
            return
        message = self.history.message(message_id)
        self._editing_id = message_id
        self.input.setPlainText(message.content)
        self.attachments.clear()
        for part in message.media:
            self.attachments.add(part)
        self.editing_label.setText("Editing: sending replaces this message and everything after it.")
        self.editing_label.setVisible(True)
        self.input.setFocus()

    def _cancel_edit(self) -> None:
        self._editing_id = None
        self.editing_label.setVisible(False)

    def _chat_messages(self) -> list[p.ChatMessage]:
        assert self.conversation is not None
        out = [p.ChatMessage("system", self.system_prompt.text())] if self.system_prompt.text().strip() else []
        for message in self.history.messages(self.conversation.id):
            if message.content or message.role == "user":
                out.append(p.ChatMessage(message.role, message.content, media=message.media))
        return out

    def _start_reply(self, versions: tuple[Version, ...] = ()) -> None:
        assert self.conversation is not None
        messages = self._chat_messages()
        self._show_messages()
        template = self._template_for_send()
        self._reply_template = template
        if template == RAW and not self.messages.notes:
            self.messages.add_note(RAW_NOTE)
        sampling = sampling_for(self.preset.currentText(), self.prefs.max_tokens, self.prefs.seed)
        self._writer = ReplyWriter(self.history, self.conversation.id, alternatives=versions)
        self._stream_text = []
        self._stream_tokens = 0
        self._stream_widget = self.messages.add("assistant", "", self._writer.message.id, streaming=True)
        self._stream_widget.set_stats("…")
        self._stream_widget.set_versions(len(versions), len(versions) + 1, enabled=False)
        try:
            self._request_id = self.engine.generate(
                messages, template=template, sampling=sampling, context_policy=self.policy.currentData()
            )
        except Exception as exc:
            self._end_stream(keep=False)
            self._show_error(str(exc), (("Reload", self.reload_model),) if self._load_request else ())
            return
        self._set_streaming(True)

    def stop(self) -> None:
        if self.streaming:
            self.engine.stop()

    def _flush(self) -> None:
        if not self._dirty or self._stream_widget is None:
            return
        self._dirty = False
        self._stream_widget.set_text("".join(self._stream_text), streaming=True)
        elapsed = time.perf_counter() - self._first_token_at
        if self._stream_tokens > 1 and elapsed > 0:
            self.speed_label.setText(f"{(self._stream_tokens - 1) / elapsed:.1f} tok/s")

    def _finish_reply(self, done: p.Done) -> None:
        writer = self._writer
        if writer is None:
            return
        stats = {**_stats_dict(done), "template": self._reply_template}
        writer.finish(stats, text=done.text)
        self._writer = None
        self._set_streaming(False)
        self.last_stats = done.stats
        self._show_messages()
        self.speed_label.setText(_speed_text(done.stats.generated_tokens, done.stats.tokens_per_second))
        self.context_meter.setRange(0, done.stats.context_size)
        self.context_meter.setValue(done.stats.context_used)
        if done.stats.dropped_messages:
            self.banner.show_text(
                f"The context was full: the {done.stats.dropped_messages} oldest messages were "
                "left out of the prompt (they stay in the history).",
                error=False,
            )
        elif done.finish_reason == "context_full":
            self.banner.show_text(
                "The context is full: the reply was cut. Start a new chat, load with a longer "
                "context, or let old turns be dropped.",
                error=False,
            )
        self.reload_conversations()
        self.replyFinished.emit(done)
        self.replyEnded.emit()

    def _end_stream(self, *, keep: bool) -> None:
        """Ends a reply that produced no Done (engine error): keep what came, or drop the empty row."""
        writer = self._writer
        self._writer = None
        self._set_streaming(False)
        if writer is not None and self.conversation is not None:
            if keep:
                writer.finish(None)
            else:
                self.history.drop_version(writer.message.id)  # a regenerated reply's earlier answers stay
        self._show_messages()
        self.replyEnded.emit()

    def _set_streaming(self, streaming: bool) -> None:
        self.send_button.setVisible(not streaming)
        self.stop_button.setVisible(streaming)
        if streaming:
            self._flush_timer.start()
        else:
            self._flush_timer.stop()
            self._stream_widget = None


def _stats_dict(done: p.Done) -> dict[str, Any]:
    s = done.stats
    return {
        "tokens": s.generated_tokens,
        "tokens_per_second": round(s.tokens_per_second, 2),
        "ttft_ms": round(s.ttft_seconds * 1000, 1),
        "prompt_tokens": s.prompt_tokens,
        "prompt_evaluated": s.prompt_evaluated,
        "context_used": s.context_used,
        "context_size": s.context_size,
        "finish_reason": done.finish_reason,
        "at": time.time(),
    }


def _speed_text(tokens: int, tokens_per_second: float) -> str:
    """A rate needs two tokens (the first comes with the prompt): none is shown for shorter replies."""
    return f"{tokens_per_second:.1f} tok/s" if tokens > 1 and tokens_per_second > 0 else ""


def _stats_text(stats: dict[str, Any], complete: bool) -> str:
    tokens = int(stats.get("tokens", 0) or 0)
    parts = [f"{tokens:,} token" + ("" if tokens == 1 else "s")]
    speed = _speed_text(tokens, float(stats.get("tokens_per_second", 0) or 0))
    if speed:
        parts.append(speed)
    elif stats.get("ttft_ms"):
        parts.append(f"first token after {stats['ttft_ms']:.0f} ms")
    if stats.get("template") == RAW:
        parts.append("raw completion")
    reason = stats.get("finish_reason")
    if reason == "stopped":
        parts.append("stopped")
    elif reason == "context_full":
        parts.append("context full")
    if not complete:
        parts.append("interrupted")
    return " · ".join(parts)
