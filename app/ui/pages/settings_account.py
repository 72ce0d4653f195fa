"""Sign in to the Hugging Face Hub with an access token (validated with whoami, stored where huggingface_hub
keeps it), or sign out. Embedded by the Settings page; the token never reaches a log or a message."""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.core.errors import UnauthorizedError
from app.hub.models import Account
from app.ui.context import AppContext
from app.ui.pages.discover_detail import error_html
from app.ui.pages.discover_tasks import connect_task
from app.ui.tasks import Task, TaskControl, run_task

TOKENS_URL = "https://huggingface.co/settings/tokens"


def _check(_control: TaskControl) -> Account | None:
    from app.hub.auth import stored_token, whoami

    return whoami() if stored_token() else None


def _sign_in(_control: TaskControl, token: str) -> Account:
    from app.hub.auth import sign_in

    return sign_in(token)


def _sign_out(control: TaskControl) -> Account | None:
    from app.hub.auth import sign_out

    sign_out()
    return _check(control)  # HF_TOKEN in the environment still signs in


class AccountBox(QWidget):
    account_changed = Signal(object)  # Account or None
    failed = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.account: Account | None = None
        self._task: Task | None = None
        self.status = QLabel("Checking your Hub account…")
        self.status.setWordWrap(True)
        self.status.setOpenExternalLinks(True)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("hf_… access token (read access is enough)")
        self.sign_in_button = QPushButton("Sign in")
        self.sign_out_button = QPushButton("Sign out")
        self.help = QLabel(
            f'Gated models (Llama, Gemma…) need a token: <a href="{TOKENS_URL}">create one</a>, '
            "then accept each model's license on its Hub page."
        )
        self.help.setOpenExternalLinks(True)
        self.help.setWordWrap(True)
        self.help.setObjectName("PageSubtitle")
        row = QHBoxLayout()
        row.addWidget(self.token_edit, 1)
        row.addWidget(self.sign_in_button)
        row.addWidget(self.sign_out_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addWidget(self.help)
        self.sign_in_button.clicked.connect(self.sign_in)
        self.token_edit.returnPressed.connect(self.sign_in)
        self.sign_out_button.clicked.connect(self.sign_out)
        self._show(None)
        self._run(_check)

    def sign_in(self) -> None:
        token = self.token_edit.text().strip()
        if not token:
            self._error(UnauthorizedError("Paste an access token first", hint="create one on the Hub"))
            return
        self.status.setText("Checking the token with the Hub…")
        self._run(_sign_in, token)

    def sign_out(self) -> None:
        self._run(_sign_out)

    def _run(self, fn: object, *args: object) -> None:
        self._set_busy(True)
        task = run_task(fn, *args, name="hub account")  # type: ignore[arg-type]
        connect_task(self, task, self._done, self._error)
        self._task = task

    def _done(self, account: Account | None) -> None:
        self._set_busy(False)
        self.token_edit.clear()
        self._show(account)
        self.account_changed.emit(account)

    def _error(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.status.setText(f"<span style='color:#d93025'>{error_html(exc)}</span>")
        self.failed.emit(exc)

    def _show(self, account: Account | None) -> None:
        self.account = account
        signed_in = account is not None
        self.sign_out_button.setEnabled(signed_in)
        if account is None:
            self.status.setText("Not signed in. Public models work without an account.")
        else:
            role = f", {account.role} access" if account.role else ""
            from app.hub.auth import token_from_environment

            if token_from_environment():
                role += "; from the HF_TOKEN environment variable, which sign-out cannot remove"
            self.status.setText(
                f"Signed in as <b>{html.escape(account.fullname)}</b> "
                f"({html.escape(account.name)}; token “{html.escape(account.token_name)}”{role})."
            )

    def _set_busy(self, busy: bool) -> None:
        self.sign_in_button.setEnabled(not busy)
        self.token_edit.setEnabled(not busy)
        if busy:
            self.sign_out_button.setEnabled(False)
        else:
            self.sign_out_button.setEnabled(self.account is not None)
