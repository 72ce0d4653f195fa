"""Stop while a model's own chat template renders slowly (#15): the render ends as stopped, not at its deadline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.chat import protocol as p
from app.chat.templates import AUTO
from app.ui.pages.chat import ChatPage
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

# Ten billion loop turns: only the render budget's deadline (or Stop) ends it.
SPIN = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ messages[0].content }}"


def test_stop_ends_a_slow_template_render(chat_page: ChatPage, qtbot: Any, tmp_path: Path) -> None:
    page = chat_page
    model = write_tiny_gguf(tmp_path / "spinning-template.gguf", TinySpec(chat_template=SPIN))
    with qtbot.waitSignal(page.modelLoaded, timeout=60_000):
        page.load_model(str(model), p.EngineSettings(n_ctx=256, n_threads=1))
    assert page.template.currentData() == AUTO
    page.input.setPlainText("Hello")
    with qtbot.waitSignal(page.replyEnded, timeout=30_000):
        page.send_button.click()
        assert page.stop_button.isVisible()
        page.stop_button.click()
    # Stopped, not refused at the 2 s deadline: no error, the question kept, no empty reply left behind.
    assert not page.banner.isVisible(), page.banner.label.text()
    assert page.speed_label.text() == "stopped"
    assert page.conversation is not None
    assert [m.role for m in page.history.messages(page.conversation.id)] == ["user"]
    assert page.send_button.isVisible() and not page.stop_button.isVisible()
    # The engine serves on: without Stop the same template runs into its deadline, named in the banner.
    page.input.setPlainText("Hello again")
    with qtbot.waitSignal(page.replyEnded, timeout=30_000):
        page.send_button.click()
    assert page.banner.isVisible() and "time budget" in page.banner.label.text()
