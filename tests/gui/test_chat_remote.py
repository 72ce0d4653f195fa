"""The Chat page with a remote endpoint (a small OpenAI-style server on 127.0.0.1): its models appear in
the chooser beside local ones, a reply streams through it, and a stream that breaks keeps its partial text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.chat import protocol as p
from app.remote.endpoints import Endpoint, add_endpoint
from app.remote.refs import remote_ref
from app.ui.pages.chat import ChatPage
from tests.support.misbehaving_sse import WORDS, misbehaving_server


@pytest.fixture
def flaky_endpoint() -> Iterator[str]:
    with misbehaving_server() as url:
        add_endpoint(Endpoint("flaky", url))
        yield url


@pytest.fixture
def page(flaky_endpoint: str, chat_page: ChatPage) -> ChatPage:
    return chat_page  # made once the endpoint is saved, so its models are listed from the start


def test_remote_models_in_the_chooser_and_a_streamed_reply(page: ChatPage, qtbot) -> None:
    combo = page.load_panel.model_combo
    ref = remote_ref("flaky", "keepalive")
    qtbot.waitUntil(lambda: combo.findData(ref) >= 0, timeout=10_000)
    assert combo.itemText(combo.findData(ref)) == "keepalive · flaky"
    combo.setCurrentIndex(combo.findData(ref))
    assert page.load_panel.load_button.isEnabled()
    with qtbot.waitSignal(page.modelLoaded, timeout=10_000) as loaded:
        page.load_panel.load_button.click()
    assert loaded.args[0].description == "keepalive on flaky"
    page.input.setPlainText("hello")
    with qtbot.waitSignal(page.replyFinished, timeout=10_000) as finished:
        page.send_button.click()
    done: p.Done = finished.args[0]
    assert done.text == "".join(WORDS)
    assert [m.content for m in page.history.messages(page.conversation.id)] == ["hello", "".join(WORDS)]


def test_a_dropped_stream_keeps_the_partial_reply(page: ChatPage, qtbot) -> None:
    with qtbot.waitSignal(page.modelLoaded, timeout=10_000):
        page.load_model(remote_ref("flaky", "drop"), p.EngineSettings())
    page.input.setPlainText("hello")
    page.send_button.click()
    qtbot.waitUntil(lambda: page.banner.isVisible() and not page.streaming, timeout=10_000)
    assert "broke during the reply" in page.banner.label.text()
    assert page.conversation is not None
    stored = page.history.messages(page.conversation.id)
    assert [m.content for m in stored] == ["hello", "".join(WORDS[:2])]


def test_an_unknown_remote_model_is_a_clear_error(page: ChatPage, qtbot) -> None:
    page.load_model(remote_ref("flaky", "no-such-model"), p.EngineSettings())
    qtbot.waitUntil(lambda: page.banner.isVisible(), timeout=10_000)
    assert "has no model 'no-such-model'" in page.banner.label.text()
