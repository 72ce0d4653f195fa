"""The Chat page on the local API server's engine (issue #17, item 5): while the app serves its library, a
model the server can serve runs once, in the server's engine, with the chat on one sequence beside the API's
requests. Real Gemma 3 270M, real server, real openai SDK."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from app.chat import protocol as p
from app.ui.pages.chat import ChatPage
from app.ui.pages.server import ServerPage
from tests.support.chat_server_pages import chat_and_server, engine_processes
from tests.support.shots import save_shot, shots_dir

SETTINGS = p.EngineSettings(n_ctx=1024, n_threads=2, n_batch=256)  # the chat's own; the server's apply
API_TOKENS = 300
# Gemma 270M (a base model: no chat template) counts on greedily for well over 300 tokens: the API stream
# ends by its length, unless a Stop reaches it.
COUNTING = "Counting: " + ", ".join(str(i) for i in range(1, 21)) + ","


@dataclasses.dataclass
class Setup:
    server: ServerPage
    chat: ChatPage
    model: Path


@pytest.fixture
def setup(qtbot: Any, tmp_path: Path, gemma_model: Path) -> Iterator[Setup]:
    with chat_and_server(qtbot, tmp_path, gemma_model, max_tokens=12) as pages:
        with qtbot.waitSignal(pages.server.server_changed, timeout=60_000):
            pages.server.start_button.click()
        yield Setup(pages.server, pages.chat, pages.model)


def load(page: ChatPage, qtbot: Any, model: Path) -> p.ModelInfo:
    with qtbot.waitSignal(page.modelLoaded, timeout=120_000) as blocker:
        page.load_model(str(model), SETTINGS)
    info: p.ModelInfo = blocker.args[0]
    return info


class ApiStream(threading.Thread):
    """An openai-SDK client streaming a long reply from the server while the test chats."""

    def __init__(self, base_url: str, model_id: str) -> None:
        super().__init__(name="api-client", daemon=True)
        self.client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
        self.model_id = model_id
        self.first = threading.Event()
        self.ended = threading.Event()
        self.chunks = 0
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            stream = self.client.completions.create(
                model=self.model_id, prompt=COUNTING, max_tokens=API_TOKENS, temperature=0, stream=True,
                stream_options={"include_usage": True})
            for chunk in stream:
                if chunk.choices:
                    self.chunks += 1
                    self.first.set()
                    self.finish_reason = chunk.choices[0].finish_reason or self.finish_reason
                if chunk.usage is not None:
                    self.usage = chunk.usage
        except BaseException as exc:  # the test reads it
            self.error = exc
        finally:
            self.first.set()
            self.ended.set()


def test_chat_and_api_share_one_engine_and_stop_apart(qtbot: Any, setup: Setup) -> None:
    page, server = setup.chat, setup.server
    scheduler = server.server.state.scheduler
    info = load(page, qtbot, setup.model)
    assert page.engine.shared
    assert "shared with the local server" in page.model_label.text()
    assert info.n_ctx == server.server.state.config.engine.n_ctx == 1024
    loaded = scheduler.loaded()
    assert len(loaded) == 1
    model_id = loaded[0].id
    # One engine process: the server's. The chat started none of its own.
    assert engine_processes() == [scheduler.pid_of(model_id)] == [page.engine.pid]

    api = ApiStream(f"{server.server.base_url}/v1", model_id)
    api.start()
    assert api.first.wait(120), "the API stream did not start"
    assert api.error is None

    # A whole chat reply while the API streams on the same engine.
    page.input.setPlainText("Say hello.")
    with qtbot.waitSignal(page.replyFinished, timeout=120_000) as finished:
        page.send_button.click()
    done: p.Done = finished.args[0]
    assert done.finish_reason in ("eog", "length") and done.text
    assert not api.ended.is_set(), "the API stream ended before the chat: nothing ran side by side"
    if shots_dir() is not None:
        page.banner.hide()
        qtbot.waitUntil(lambda: bool(page.messages.widgets) and page.messages.widgets[-1].isVisible())
        save_shot(page, "chat-shared")

    # Stop in the chat stops the chat's sequence only.
    page.prefs = dataclasses.replace(page.prefs, max_tokens=400)
    page.input.setPlainText(COUNTING)
    with qtbot.waitSignal(page.replyFinished, timeout=120_000) as stopped:
        page.send_button.click()
        qtbot.waitUntil(lambda: bool(page._stream_text), timeout=120_000)
        page.stop_button.click()
    assert stopped.args[0].finish_reason == "stopped"
    assert not api.ended.is_set(), "the API stream ended before the chat's Stop: the test proves nothing"
    api.join(180)
    assert api.error is None
    assert api.finish_reason == "length"  # not cut by the chat's Stop
    assert api.usage is not None and api.usage.completion_tokens == API_TOKENS
    assert engine_processes() == [scheduler.pid_of(model_id)]

    # The Server page's request log shows the chat's replies beside the API's.
    qtbot.waitUntil(lambda: server.requests.rowCount() == 3, timeout=10_000)
    models = [server.requests.item(row, 1).text() for row in range(3)]
    assert models.count(f"{model_id} (Chat page)") == 2 and models.count(model_id) == 1
    if shots_dir() is not None:
        server.resize(1100, 720)
        server.refresh()
        save_shot(server, "server-chat-shared")


def test_stopping_the_server_ends_the_chat_reply_with_a_message(qtbot: Any, setup: Setup) -> None:
    page, server = setup.chat, setup.server
    # Cancel while the server loads the model for the chat: the chat lets go, the server keeps it.
    with qtbot.waitSignal(page.engine._shared_opened, timeout=120_000):  # the server's answer, dropped
        page.load_model(str(setup.model), SETTINGS)
        page.load_panel.cancelRequested.emit()
        assert page.model_label.text() == "Loading cancelled" and page.model_info is None
    assert not page.engine.shared and page.model_info is None
    assert len(server.server.state.scheduler.loaded()) == 1

    load(page, qtbot, setup.model)
    assert page.engine.shared
    page.prefs = dataclasses.replace(page.prefs, max_tokens=400)
    page.input.setPlainText(COUNTING)
    page.send_button.click()
    qtbot.waitUntil(lambda: bool(page._stream_text), timeout=120_000)
    assert page.streaming
    with qtbot.waitSignal(page.replyEnded, timeout=30_000):
        server.start_button.click()  # Stop the server
    assert "local server stopped" in page.banner.label.text()
    assert page.model_info is None and not page.engine.shared
    assert page.model_label.text() == "The chat engine stopped"
    assert page.conversation is not None
    kept = page.history.messages(page.conversation.id)[-1]
    assert kept.role == "assistant" and kept.content and not kept.complete  # what streamed stays
    qtbot.waitUntil(lambda: server._task is None, timeout=60_000)  # the server has stopped

    # Reload: the server is gone, so the chat loads the model in its own engine.
    reload = page.banner.button("Reload")
    assert reload is not None
    with qtbot.waitSignal(page.modelLoaded, timeout=120_000):
        reload.click()
    assert not page.engine.shared and "shared" not in page.model_label.text()
    assert engine_processes() == [page.engine.pid]
