"""The Chat page as a new user meets it (#16 items 1, 9, 10): a base model answers, a restart remembers,
regenerated replies are kept, the meter moves, the load panel explains what it cannot do."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.chat import protocol as p
from app.chat.templates import AUTO, RAW
from app.core.settings import Settings
from app.ui.context import AppContext
from app.ui.pages.chat import ChatPage, _stats_text

SETTINGS = p.EngineSettings(n_ctx=1536, n_threads=2, n_batch=256)  # not the 4,096 default on purpose


def _new_page(qtbot: Any) -> ChatPage:
    page = ChatPage(AppContext.create(Settings()))
    qtbot.addWidget(page)
    page.resize(1100, 750)
    page.show()
    qtbot.waitExposed(page)
    return page


@pytest.fixture
def pages(qtbot: Any) -> Iterator[list[ChatPage]]:
    """Chat pages made by a test (one per "start of the app"), shut down at its end."""
    made: list[ChatPage] = []
    yield made
    for page in made:
        page.shutdown()


def _load(page: ChatPage, qtbot: Any, model: Path, settings: p.EngineSettings = SETTINGS) -> p.ModelInfo:
    with qtbot.waitSignal(page.modelLoaded, timeout=60_000) as blocker:
        page.load_model(str(model), settings)
    info: p.ModelInfo = blocker.args[0]
    return info


def _send(page: ChatPage, qtbot: Any, text: str) -> p.Done:
    page.input.setPlainText(text)
    with qtbot.waitSignal(page.replyFinished, timeout=120_000) as blocker:
        page.send_button.click()
    done: p.Done = blocker.args[0]
    return done


def test_stats_line_counts_one_token_and_shows_no_zero_speed() -> None:
    one = _stats_text({"tokens": 1, "tokens_per_second": 0.0, "ttft_ms": 84.0}, True)
    assert one.startswith("1 token ·") and "tokens" not in one and "0.0 tok/s" not in one
    assert "first token after 84 ms" in one
    many = _stats_text({"tokens": 12, "tokens_per_second": 31.25, "ttft_ms": 20.0}, True)
    assert many.startswith("12 tokens · 31.2 tok/s") or many.startswith("12 tokens · 31.3 tok/s")
    assert "raw completion" in _stats_text({"tokens": 3, "tokens_per_second": 9.0, "template": RAW}, True)


def test_gpu_layers_say_why_they_are_off_and_a_long_context_is_warned(chat_page: ChatPage, gemma_model: Path,
                                                                       qtbot: Any, tmp_path: Path) -> None:
    panel = chat_page.load_panel
    panel.add_model_path(str(gemma_model))
    chat_page.ctx.hardware.start()  # the window starts the probe after its first paint
    qtbot.waitUntil(lambda: panel.model is not None and panel._hardware_info is not None, timeout=60_000)
    info = panel._hardware_info
    can = info.can_offload and info.vram_free > 0
    assert panel.ngl_slider.isEnabled() is can and panel.auto_button.isEnabled() is can
    assert panel.offload_note.isVisible() is (not can)
    if not can:
        assert "Every layer runs on the CPU" in panel.offload_note.text()
        assert panel.ngl_label.text() == "CPU only" and panel.settings().n_gpu_layers == 0
    # The trained context (32,768 for Gemma 3 270M) can be passed, with a warning.
    trained = panel.model.n_ctx_train if panel.model else 0
    assert trained == 32768 and not panel.ctx_warning.isVisible()
    panel.ctx_slider.setValue(panel.ctx_slider.maximum())
    assert panel.settings().n_ctx > trained
    assert panel.ctx_warning.isVisible() and "32,768 tokens this model was trained on" in panel.ctx_warning.text()
    panel.ctx_slider.setValue(trained // 256)
    assert not panel.ctx_warning.isVisible()
    assert chat_page.grab().save(str(tmp_path / "chat-load-cpu.png"))


@pytest.mark.slow
def test_send_with_a_base_model_answers_by_raw_completion_and_says_so(chat_page: ChatPage, gemma_model: Path,
                                                                       qtbot: Any, tmp_path: Path) -> None:
    page = chat_page
    page.prefs = dataclasses.replace(page.prefs, max_tokens=8, seed=1)
    page.preset.setCurrentText("Greedy")
    info = _load(page, qtbot, gemma_model)
    assert info.chat_template is None
    # The template box shows what is used, the banner why, with the family's chat format one click away.
    assert page.template.currentData() == RAW and "Raw completion" in page.template.currentText()
    assert page.banner.isVisible() and "no chat template" in page.banner.label.text()
    assert page.banner.button("Use gemma") is not None
    # The user ignores all of it and presses Send: an answer comes, and the conversation says how.
    done = _send(page, qtbot, "The capital of France is")
    assert done.stats.generated_tokens >= 1
    assert page.conversation is not None
    stored = page.history.messages(page.conversation.id)
    assert [m.role for m in stored] == ["user", "assistant"] and stored[1].content == done.text
    assert stored[1].stats is not None and stored[1].stats["template"] == RAW
    notes = page.messages.notes
    assert len(notes) == 1 and "no chat template" in notes[0].text()
    qtbot.waitUntil(notes[0].isVisible, timeout=5000)
    assert "raw completion" in page.messages.widgets[-1].stats_label.text()
    # Raw was this model's fallback, not the user's choice: the next model with a template gets its own.
    assert page.prefs.template == AUTO and page.conversation.settings["template"] == AUTO
    assert page.grab().save(str(tmp_path / "chat-base-model.png"))
    # The banner's proposal switches to a chat format.
    button = page.banner.button("Use gemma")
    assert button is not None
    button.click()
    assert page.template.currentData() == "gemma" and not page.banner.isVisible()


@pytest.mark.slow
def test_chat_remembers_across_a_restart_and_keeps_regenerated_replies(pages: list[ChatPage], gemma_model: Path,
                                                                        qtbot: Any, tmp_path: Path) -> None:
    first = _new_page(qtbot)
    pages.append(first)
    first.prefs = dataclasses.replace(first.prefs, max_tokens=6, seed=4)
    first.preset.setCurrentText("Greedy")
    _load(first, qtbot, gemma_model)
    first.template.setCurrentIndex(first.template.findData("gemma"))
    # The context meter moves while the reply streams, not only at its end.
    seen: list[int] = []
    first.engine.received.connect(
        lambda event: seen.append(first.context_meter.value()) if isinstance(event, p.Token) else None)
    done = _send(first, qtbot, "Name a colour.")
    assert seen and max(seen) > 0 and max(seen) <= done.stats.context_used
    conversation = first.conversation
    assert conversation is not None
    first.shutdown()
    pages.remove(first)

    # The app starts again: the conversation is opened and Send loads its model as it was loaded.
    second = _new_page(qtbot)
    pages.append(second)
    second.prefs = dataclasses.replace(second.prefs, max_tokens=6, seed=5)
    second.reload_conversations()
    second.open_conversation(conversation.id)
    panel = second.load_panel
    qtbot.waitUntil(lambda: panel.model is not None, timeout=30_000)
    assert panel.model is not None and panel.model.path == str(gemma_model)
    assert panel.settings().n_ctx == SETTINGS.n_ctx  # the panel shows the remembered settings too
    assert second.model_info is None
    second.input.setPlainText("And another one?")
    with qtbot.waitSignal(second.replyFinished, timeout=120_000), \
            qtbot.waitSignal(second.modelLoaded, timeout=60_000) as loaded:
        second.send_button.click()
    assert loaded.args[0].n_ctx == SETTINGS.n_ctx and loaded.args[0].path == str(gemma_model)
    assert [m.role for m in second.history.messages(conversation.id)] == ["user", "assistant"] * 2
    assert second.unload_button.isEnabled()

    # Regenerate keeps the earlier reply: ‹ 2/2 ›, and ‹ brings the first one back, in the history too.
    before = second.history.messages(conversation.id)[-1].content
    second.preset.setCurrentText("Creative")
    with qtbot.waitSignal(second.replyFinished, timeout=120_000):
        second.messages.widgets[-1].regenerate_button.click()
    last = second.history.messages(conversation.id)[-1]
    assert len(second.history.messages(conversation.id)) == 4
    assert last.versions[0].content == before and last.variant == 1
    widget = second.messages.widgets[-1]
    assert not widget.version_label.isHidden() and widget.version_label.text() == "2/2"
    qtbot.waitUntil(widget.isVisible, timeout=5000)
    assert second.grab().save(str(tmp_path / "chat-versions.png"))
    widget.previous_button.click()
    assert second.history.messages(conversation.id)[-1].content == before
    assert second.messages.widgets[-1].version_label.text() == "1/2"
    assert second.messages.widgets[-1].text == before

    # Unload frees the model; the next Send brings it back by itself.
    with qtbot.waitSignal(second.engine.received, timeout=30_000,
                          check_params_cb=lambda event: isinstance(event, p.Unloaded)):
        second.unload_button.click()
    assert second.model_info is None and not second.unload_button.isEnabled()
    assert second.model_label.text() == "No model loaded"
    second.prefs = dataclasses.replace(second.prefs, max_tokens=1)
    with qtbot.waitSignal(second.replyFinished, timeout=120_000) as finished:
        second.input.setPlainText("Thanks.")
        second.send_button.click()
    assert finished.args[0].stats.generated_tokens == 1
    stats = second.messages.widgets[-1].stats_label.text()
    assert stats.startswith("1 token") and "tok/s" not in stats
