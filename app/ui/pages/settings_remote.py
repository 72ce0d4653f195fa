"""Settings ▸ Remote engines: OpenAI-compatible servers whose models the Chat page offers beside local
ones. Add (contacted first), test and remove; the key goes only into the endpoints file, never a message."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import AppError
from app.ui.tasks import Task, TaskControl, run_task


def _add(_control: TaskControl, name: str, url: str, key: str) -> Any:
    from app.remote.client import RemoteClient
    from app.remote.endpoints import Endpoint, add_endpoint, check_name, normalize_url

    endpoint = Endpoint(check_name(name), normalize_url(url), key or None)
    with RemoteClient(endpoint) as client:
        report = client.report()
    add_endpoint(endpoint)
    return report


def _test(_control: TaskControl, name: str) -> Any:
    from app.remote.client import RemoteClient
    from app.remote.endpoints import find_endpoint

    with RemoteClient(find_endpoint(name)) as client:
        return client.report()


class RemoteBox(QWidget):
    changed = Signal()  # the list of endpoints changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._task: Task | None = None
        self.endpoints = QListWidget()
        self.endpoints.setMaximumHeight(90)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("gpu-box")
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("http://192.168.1.20:8080 (llama-server, vLLM, Ollama, LM Studio…)")
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("API key, if the server wants one")
        self.add_button = QPushButton("Add")
        self.test_button = QPushButton("Test")
        self.remove_button = QPushButton("Remove")
        self.status = QLabel("Servers on other machines whose models you can chat with.")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("URL", self.url_edit)
        form.addRow("Key", self.key_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.endpoints)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

        self.add_button.clicked.connect(self.add)
        self.test_button.clicked.connect(self.test)
        self.remove_button.clicked.connect(self.remove)
        self.endpoints.currentRowChanged.connect(self._selection_changed)
        self.reload()

    def reload(self) -> None:
        from app.remote.endpoints import load_endpoints

        self.endpoints.clear()
        try:
            items = load_endpoints()
        except AppError as exc:
            self._say(str(exc), error=True)
            items = []
        for endpoint in items:
            self.endpoints.addItem(f"{endpoint.name} — {endpoint.url}" + ("  (key)" if endpoint.api_key else ""))
            self.endpoints.item(self.endpoints.count() - 1).setData(Qt.ItemDataRole.UserRole, endpoint.name)
        self._selection_changed()

    def selected(self) -> str | None:
        item = self.endpoints.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def _selection_changed(self, *_args: object) -> None:
        chosen = self.selected() is not None
        self.test_button.setEnabled(chosen)
        self.remove_button.setEnabled(chosen)

    def add(self) -> None:
        name, url = self.name_edit.text().strip(), self.url_edit.text().strip()
        if not name or not url:
            self._say("Give the endpoint a name and its URL.", error=True)
            return
        self._say(f"Contacting {html.escape(url)}…")
        self._run(run_task(_add, name, url, self.key_edit.text().strip()), added=True)

    def test(self) -> None:
        name = self.selected()
        if name is not None:
            self._say(f"Contacting {html.escape(name)}…")
            self._run(run_task(_test, name), added=False)

    def remove(self) -> None:
        from app.remote.endpoints import remove_endpoint

        name = self.selected()
        if name is None:
            return
        try:
            remove_endpoint(name)
        except AppError as exc:
            self._say(str(exc), error=True)
            return
        self._say(f"Removed {html.escape(name)}.")
        self.reload()
        self.changed.emit()

    def _run(self, task: Task, *, added: bool) -> None:
        self._task = task
        self.add_button.setEnabled(False)

        def done(report: Any) -> None:
            self.add_button.setEnabled(True)
            names = ", ".join(html.escape(m.id) for m in report.models[:8]) or "no models"
            details = "".join(f"<br>{html.escape(label)}: {html.escape(value)}" for label, value in report.details)
            self._say(f"<b>{html.escape(report.kind)}</b>: {names}{details}")
            if added:
                self.name_edit.clear()
                self.url_edit.clear()
                self.key_edit.clear()
                self.reload()
                self.changed.emit()

        def failed(exc: BaseException) -> None:
            self.add_button.setEnabled(True)
            self._say(html.escape(str(exc)), error=True)

        task.finished.connect(done)
        task.failed.connect(failed)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(f'<span style="color:#c0392b">{text}</span>' if error else text)
