"""The Server page: start and stop the API server off the GUI thread, a LAN address refused without a key,
loaded models and a live request log, the start-with-the-app setting, and an RPC worker on this machine."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from PySide6.QtWidgets import QApplication

from app.core.settings import Settings
from app.server.keyfile import load_key
from app.ui.context import AppContext
from app.ui.pages.server import ServerPage
from app.ui.theme import apply_theme
from tests.support import shots
from tests.support.rpc_workers import free_port
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>\n{% endif %}"
)


@pytest.fixture
def page(qtbot: Any, tmp_path: Path) -> Iterator[ServerPage]:
    models = tmp_path / "models"
    (models / "tiny").mkdir(parents=True)
    write_tiny_gguf(models / "tiny" / "chat.gguf", TinySpec(chat_template=TEMPLATE, n_vocab=600))
    settings = Settings()
    settings.update(models_dir=str(models), threads=2, default_context=512)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, settings.values.theme)
    widget = ServerPage(AppContext.create(settings))
    qtbot.addWidget(widget)
    widget.resize(1100, 720)
    widget.show()
    yield widget
    widget.shutdown()


KEY = "a-key-for-the-test"


def save_shot(widget: ServerPage, name: str) -> None:
    shots.save_shot(widget, f"server-{name}")


def start_with_key(qtbot: Any, page: ServerPage) -> int:
    """Starts the page's server on a free port with the test's API key; the port."""
    port = free_port()
    page.port.setValue(port)
    page.key.setText(KEY)
    with qtbot.waitSignal(page.server_changed, timeout=60_000):
        page.start_button.click()
    return port


def test_serve_a_request_and_see_it_in_the_log(qtbot: Any, page: ServerPage) -> None:
    port = free_port()
    page.port.setValue(port)
    page.key.setText("a-key-for-the-test")
    page.parallel.setValue(2)
    with qtbot.waitSignal(page.server_changed, timeout=60_000) as started:
        page.start_button.click()
        assert page.start_button.isEnabled() is False  # starting happens in a task
    assert started.args == [True]
    assert f"http://127.0.0.1:{port}/v1" in page.state_label.text()
    assert not page.port.isEnabled() and not page.key.isEnabled()
    assert load_key() == "a-key-for-the-test"  # kept for the next start, in its own file
    assert "a-key-for-the-test" not in page.state_label.text()

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
    reply = client.chat.completions.create(model="tiny/chat", messages=[{"role": "user", "content": "hi"}],
                                           max_tokens=5)
    qtbot.waitUntil(lambda: page.requests.rowCount() == 1, timeout=10_000)
    assert page.requests.item(0, 1).text() == "tiny/chat"
    assert page.requests.item(0, 3).text() == str(reply.usage.completion_tokens)
    assert page.requests.item(0, 4).text().endswith("tok/s")
    qtbot.waitUntil(lambda: page.models.rowCount() == 1, timeout=10_000)
    assert page.models.item(0, 0).text() == "tiny/chat" and page.models.item(0, 1).text() != "0 B"
    save_shot(page, "serving")

    with qtbot.waitSignal(page.server_changed, timeout=60_000) as stopped:
        page.start_button.click()
    assert stopped.args == [False]
    assert page.state_label.text() == "Stopped" and page.port.isEnabled()
    with pytest.raises(openai.APIConnectionError):
        client.models.list()


def test_a_lan_server_needs_a_key(qtbot: Any, page: ServerPage) -> None:
    page.lan.setChecked(True)
    page.key.clear()
    page.start_button.click()
    assert not page.serving and page._task is None
    assert "needs a key" in page.state_label.text()


def test_engines_of_the_page_run_below_the_window(page: ServerPage) -> None:
    from app.server.config import GUI_ENGINE_NICE, ServerConfig

    assert GUI_ENGINE_NICE > 0 and ServerConfig().engine_nice == 0  # `serve` has no window to keep responsive
    assert page.config().engine_nice == GUI_ENGINE_NICE


def test_start_with_the_app(qtbot: Any, page: ServerPage) -> None:
    page.autostart.setChecked(True)
    assert page.ctx.settings.values.server_autostart is True
    settings = page.ctx.settings
    settings.update(server_port=free_port())
    again = ServerPage(AppContext.create(settings))  # what the window builds at start when the setting is on
    qtbot.addWidget(again)
    try:
        with qtbot.waitSignal(again.server_changed, timeout=60_000):
            pass
        assert again.serving
    finally:
        again.shutdown()


def test_an_rpc_worker_on_this_machine(qtbot: Any, page: ServerPage) -> None:
    page.worker_lan.setChecked(True)
    assert page.worker_warning.isVisible() and "authentication" in page.worker_warning.text()
    save_shot(page, "worker-lan-warning")
    page.worker_lan.setChecked(False)
    assert not page.worker_warning.isVisible()
    port = free_port()
    page.worker_port.setValue(port)
    with qtbot.waitSignal(page.worker_changed, timeout=90_000) as started:
        page.worker_button.click()
    assert started.args == [True]
    assert f"127.0.0.1:{port}" in page.worker_label.text() and "free of" in page.worker_label.text()
    assert page.worker_button.text() == "Stop worker"
    save_shot(page, "worker")
    with qtbot.waitSignal(page.worker_changed, timeout=30_000) as stopped:
        page.worker_button.click()
    assert stopped.args == [False] and page.worker_label.text() == "Not running"


def test_a_request_whose_engine_dies_is_in_the_log_with_its_error(qtbot: Any, page: ServerPage) -> None:
    port = start_with_key(qtbot, page)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0,
                           timeout=120)
    hi = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="tiny/chat", messages=hi, max_tokens=2)  # type: ignore[arg-type]
    scheduler = page.server.state.scheduler
    pid = scheduler.pid_of("tiny/chat")
    assert pid is not None
    # Held still, the engine takes the next request but never answers it; then it is killed under it.
    os.kill(pid, signal.SIGSTOP)
    told: list[openai.APIStatusError] = []

    def ask() -> None:
        try:
            client.chat.completions.create(model="tiny/chat", messages=hi, max_tokens=2)  # type: ignore[arg-type]
        except openai.APIStatusError as exc:
            told.append(exc)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    slot = scheduler._slots["tiny/chat"]
    qtbot.waitUntil(lambda: slot.client.open_requests == 1, timeout=30_000)
    os.kill(pid, signal.SIGKILL)
    thread.join(120)
    assert len(told) == 1 and told[0].status_code == 500
    qtbot.waitUntil(lambda: page.requests.rowCount() == 2, timeout=10_000)
    assert page.requests.item(0, 1).text() == "tiny/chat"
    assert page.requests.item(0, 5).text() == "error 500"
    body = told[0].body
    assert isinstance(body, dict) and "SIGKILL" in body["message"]
    assert page.requests.item(0, 5).toolTip() == body["message"]  # what the client was told
    assert page.requests.item(1, 5).text() == "length"  # the answered one, without a tooltip
    assert page.requests.item(1, 5).toolTip() == ""
    save_shot(page, "engine-died")


def test_a_model_too_large_is_refused_with_what_this_page_and_settings_offer(qtbot: Any, page: ServerPage) -> None:
    port = start_with_key(qtbot, page)
    from app.server.scheduler import Need

    page.server.state.scheduler.budget = Need(1 << 20)  # as if 1 MiB had been free when it started
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError, match="cannot be loaded as the server is set up") as refused:
        client.chat.completions.create(model="tiny/chat", messages=[{"role": "user", "content": "hi"}],
                                       max_tokens=5)
    text = refused.value.message
    assert "more than the 1.0 MiB this server may use" in text, text
    assert "Parallel requests on the Server page" in text and "Settings ▸ Performance" in text, text
    assert "--" not in text, text  # the page has no --memory-limit or --ctx: `serve`'s flags are not named
    assert page.parallel.toolTip() and page.parallel.isVisible()  # the control the message names is here
