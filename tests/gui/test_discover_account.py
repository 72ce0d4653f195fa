"""The Hub sign-in box (embedded in Settings) against the fake Hub's whoami."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.core.settings import Settings
from app.hub.auth import stored_token
from app.ui.context import AppContext
from app.ui.pages.settings_account import AccountBox
from tests.fakehub import FakeHub


def make_box(qtbot: Any) -> AccountBox:
    ctx = AppContext.create(Settings())
    box = AccountBox(ctx)
    qtbot.addWidget(box)
    qtbot.waitUntil(lambda: box.sign_in_button.isEnabled(), timeout=10_000)  # the initial account check
    return box


def test_sign_in_validates_and_stores(qtbot: Any, fake_hub: FakeHub, caplog: Any) -> None:
    fake_hub.add_token("hf_gui_secret", user="frank", token_name="studio")
    box = make_box(qtbot)
    assert box.account is None and not box.sign_out_button.isEnabled()

    qtbot.keyClicks(box.token_edit, "hf_not_valid")
    with qtbot.waitSignal(box.failed, timeout=10_000):
        qtbot.mouseClick(box.sign_in_button, Qt.MouseButton.LeftButton)
    assert "refused your token" in box.status.text() and stored_token() is None

    box.token_edit.clear()
    qtbot.keyClicks(box.token_edit, "hf_gui_secret")
    with qtbot.waitSignal(box.account_changed, timeout=10_000):
        qtbot.mouseClick(box.sign_in_button, Qt.MouseButton.LeftButton)
    assert box.account is not None and box.account.name == "frank"
    assert "frank" in box.status.text() and box.token_edit.text() == ""
    assert stored_token() == "hf_gui_secret"
    assert "hf_gui_secret" not in caplog.text

    again = make_box(qtbot)  # a new box finds the stored account
    qtbot.waitUntil(lambda: again.account is not None, timeout=10_000)

    with qtbot.waitSignal(box.account_changed, timeout=10_000):
        qtbot.mouseClick(box.sign_out_button, Qt.MouseButton.LeftButton)
    assert box.account is None and stored_token() is None
