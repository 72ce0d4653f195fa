"""Settings ▸ Remote engines: add (the endpoint is contacted first), test and remove; the key never shows."""

from __future__ import annotations

from pathlib import Path

from app.remote.endpoints import load_endpoints
from app.ui.pages.settings_remote import RemoteBox
from tests.support.misbehaving_sse import misbehaving_server


def test_add_test_and_remove(qtbot, tmp_path: Path) -> None:
    box = RemoteBox()
    qtbot.addWidget(box)
    box.resize(700, 320)
    box.show()
    with misbehaving_server() as url:
        box.name_edit.setText("flaky")
        box.url_edit.setText(url + "/v1")
        box.key_edit.setText("sk-secret-key")
        with qtbot.waitSignal(box.changed, timeout=10_000):
            box.add_button.click()
        assert [(e.name, e.url, e.api_key) for e in load_endpoints()] == [("flaky", url, "sk-secret-key")]
        assert box.endpoints.count() == 1 and "sk-secret" not in box.endpoints.item(0).text()
        assert "openai-compatible" in box.status.text() and "keepalive" in box.status.text()
        box.grab().save(str(tmp_path / "remote-box.png"))
        box.endpoints.setCurrentRow(0)
        box.status.clear()
        box.test_button.click()
        qtbot.waitUntil(lambda: "openai-compatible" in box.status.text(), timeout=10_000)
    box.endpoints.setCurrentRow(0)
    with qtbot.waitSignal(box.changed, timeout=5_000):
        box.remove_button.click()
    assert load_endpoints() == [] and box.endpoints.count() == 0


def test_an_unreachable_server_is_not_added(qtbot) -> None:
    box = RemoteBox()
    qtbot.addWidget(box)
    box.name_edit.setText("gone")
    box.url_edit.setText("http://127.0.0.1:9")
    box.add_button.click()
    qtbot.waitUntil(lambda: "Cannot reach gone" in box.status.text(), timeout=10_000)
    assert load_endpoints() == []
