"""The Chat page with the real engine process on Gemma 3 270M (slow) and without a model (fast)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QApplication

from app.chat import protocol as p
from app.chat.history import History
from app.ui.pages.chat import ChatPage
from app.ui.pages.chat_load import ModelFile, memory_view
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

SETTINGS = p.EngineSettings(n_ctx=1024, n_threads=2, n_batch=256)


@pytest.fixture
def page(chat_page: ChatPage) -> ChatPage:
    return chat_page


def load(page: ChatPage, qtbot, model: Path) -> p.ModelInfo:
    with qtbot.waitSignal(page.modelLoaded, timeout=60_000) as blocker:
        page.load_model(str(model), SETTINGS)
    return blocker.args[0]


def send(page: ChatPage, qtbot, text: str, timeout: int = 60_000) -> p.Done:
    page.input.setPlainText(text)
    with qtbot.waitSignal(page.replyFinished, timeout=timeout) as blocker:
        page.send_button.click()
    return blocker.args[0]


def test_conversation_model(qtmodeltester, page: ChatPage) -> None:
    history = page.history
    for title in ("one", "two", "three"):
        history.create(title)
    page.reload_conversations()
    qtmodeltester.check(page.conversations)
    assert page.conversations.rowCount() == 3


def test_conversation_management_without_a_model(page: ChatPage, tmp_path: Path) -> None:
    conv = page.history.create("Cooking")
    page.history.add_message(conv.id, "user", "How long to boil an egg?")
    page.history.add_message(conv.id, "assistant", "About **7 minutes**.\n\n```\ntimer 7m\n```")
    other = page.history.create("Rust")
    page.reload_conversations()
    page.open_conversation(conv.id)
    widgets = page.messages.widgets
    assert [w.role for w in widgets] == ["user", "assistant"]
    assert not widgets[1].regenerate_button.isHidden() and widgets[0].regenerate_button.isHidden()
    widgets[1].body.anchorClicked.emit(QUrl("copy:0"))
    assert QApplication.clipboard().text() == "timer 7m\n"
    page.search.setText("egg")
    assert page.conversations.rowCount() == 1
    page.search.clear()
    page.rename_conversation(other.id, "Rust questions")
    assert page.history.conversation(other.id).title == "Rust questions"
    page.export_conversation(conv.id, tmp_path / "c.md")
    assert "About **7 minutes**" in (tmp_path / "c.md").read_text()
    page.delete_conversation(conv.id)
    assert page.conversation is None and page.conversations.rowCount() == 1
    # Sending without a model explains what to do.
    page.input.setPlainText("hello")
    page.send_button.click()
    assert page.banner.isVisible() and "Load a model" in page.banner.label.text()


def test_memory_bar_follows_the_controls(page: ChatPage, gemma_model: Path, qtbot, tmp_path: Path) -> None:
    panel = page.load_panel
    panel.add_model_path(str(gemma_model))
    qtbot.waitUntil(lambda: panel.model is not None, timeout=20_000)
    assert panel.model is not None and panel.model.n_layer == 18 and panel.ngl_slider.maximum() == 19
    assert panel.ctx_slider.maximum() * 256 == 2 * 32768  # past the trained length, with a warning
    before = panel.memory.view
    assert before is not None
    panel.ctx_slider.setValue(panel.ctx_slider.value() * 4)
    after = panel.memory.view
    assert after is not None
    kv_before = sum(b for label, b in before.ram + before.vram if label == "KV cache")
    kv_after = sum(b for label, b in after.ram + after.vram if label == "KV cache")
    assert kv_after > kv_before
    panel.type_k.setCurrentText("q8_0")
    panel.type_v.setCurrentText("q8_0")
    q8 = panel.memory.view
    assert q8 is not None
    kv_q8 = sum(b for label, b in q8.ram + q8.vram if label == "KV cache")
    assert kv_q8 < kv_after
    panel.flash.setCurrentText("off")  # a quantized V cache needs flash attention
    assert not panel.load_button.isEnabled()
    panel.type_v.setCurrentText("f16")
    assert panel.load_button.isEnabled()
    assert page.grab().save(str(tmp_path / "chat-load-panel.png"))


def test_memory_view_without_hardware(gemma_model: Path) -> None:
    from app.chat.engine_core import OUTPUTS_MAX
    from app.estimate.shape import shape_from_header
    from app.gguf import read_header

    assert OUTPUTS_MAX == 1
    shape = shape_from_header(read_header(gemma_model))
    view = memory_view(ModelFile(str(gemma_model), "g", 32768, 18, shape), SETTINGS, None)
    ram = dict(view.ram)
    assert ram["weights"] > 100 * 2**20 and ram["KV cache"] > 0
    assert ram["compute"] < 100 * 2**20  # one output row: no 500 MiB logits buffer


@pytest.mark.slow
def test_chat_stream_stop_regenerate_edit(page: ChatPage, gemma_model: Path, qtbot, tmp_path: Path) -> None:
    import dataclasses

    info = load(page, qtbot, gemma_model)
    assert info.chat_template is None
    # No template in the model: raw completion is applied, and the family's chat format proposed.
    assert page.template.currentData() == "raw"
    use_gemma = page.banner.button("Use gemma")
    assert use_gemma is not None
    use_gemma.click()
    assert page.template.currentData() == "gemma"
    page.preset.setCurrentText("Greedy")
    page.prefs = dataclasses.replace(page.prefs, max_tokens=12)
    first = send(page, qtbot, "Name a colour.")
    assert first.stats.generated_tokens >= 1
    conv = page.conversation
    assert conv is not None
    stored = page.history.messages(conv.id)
    assert [m.role for m in stored] == ["user", "assistant"] and stored[1].content == first.text
    assert page.context_meter.value() == first.stats.context_used
    assert "tok/s" in page.speed_label.text()
    # A second turn reuses the cache.
    second = send(page, qtbot, "And another one?")
    assert second.stats.prompt_evaluated < second.stats.prompt_tokens / 2
    # Regenerate answers again; the earlier answer stays as a version of the reply.
    with qtbot.waitSignal(page.replyFinished, timeout=60_000):
        page.messages.widgets[-1].regenerate_button.click()
    assert len(page.history.messages(conv.id)) == 4
    assert len(page.history.messages(conv.id)[-1].versions) == 2
    # Edit and resend the first message: everything after it goes.
    first_user = page.history.messages(conv.id)[0]
    page.edit_message(first_user.id)
    assert page.input.toPlainText() == "Name a colour."
    send(page, qtbot, "Name an animal.")
    assert page.history.messages(conv.id)[0].content == "Name an animal."
    assert len(page.history.messages(conv.id)) == 2
    # Stop mid-generation.
    page.prefs = dataclasses.replace(page.prefs, max_tokens=400, seed=3)
    page.preset.setCurrentText("Creative")
    page.input.setPlainText("Tell me a long story.")
    with qtbot.waitSignal(page.replyFinished, timeout=60_000) as blocker:
        page.send_button.click()
        qtbot.waitUntil(lambda: bool(page._stream_text), timeout=30_000)
        page.stop_button.click()
    assert blocker.args[0].finish_reason == "stopped"
    assert page.grab().save(str(tmp_path / "chat-page.png"))


@pytest.mark.slow
def test_engine_killed_mid_stream_keeps_history_and_offers_reload(page: ChatPage, gemma_model: Path,
                                                                   qtbot) -> None:
    import dataclasses

    load(page, qtbot, gemma_model)
    page.template.setCurrentIndex(page.template.findData("gemma"))
    page.prefs = dataclasses.replace(page.prefs, max_tokens=2000, seed=9)
    page.preset.setCurrentText("Creative")
    page.input.setPlainText("Tell me a very long story about a ship.")
    with qtbot.waitSignal(page.engineFailed, timeout=60_000):
        page.send_button.click()
        qtbot.waitUntil(lambda: len("".join(page._stream_text)) > 30, timeout=30_000)
        pid = page.engine.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    assert page.banner.isVisible() and "killed" in page.banner.label.text()
    conv = page.conversation
    assert conv is not None
    saved = History(page.history.path).messages(conv.id)
    assert saved[-1].role == "assistant" and len(saved[-1].content) > 30 and not saved[-1].complete
    # Reload brings a new engine; the conversation goes on.
    with qtbot.waitSignal(page.modelLoaded, timeout=60_000):
        reload_button = page.banner.button("Reload")
        assert reload_button is not None
        reload_button.click()
    page.prefs = dataclasses.replace(page.prefs, max_tokens=6)
    done = send(page, qtbot, "Continue.")
    assert done.finish_reason in ("length", "eog")


def test_export_to_an_unwritable_place_is_a_message_not_a_crash(qtbot, monkeypatch, tmp_path) -> None:
    from PySide6.QtWidgets import QFileDialog

    from app.core.settings import Settings
    from app.ui.context import AppContext
    from app.ui.messages import message_bridge
    from app.ui.pages.chat import ChatPage

    ctx = AppContext.create(Settings())
    page = ChatPage(ctx)
    qtbot.addWidget(page)
    conversation = page.history.create("A chat", model_path="", system_prompt="", settings={})
    page.history.add_message(conversation.id, "user", "hello")
    monkeypatch.setattr(page, "_selected", lambda: conversation)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = blocker / "chat.md"  # its "folder" is a file: the write fails
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "Markdown (*.md)"))
    with qtbot.waitSignal(message_bridge().shown, timeout=5000) as shown:
        page._export_clicked()
    assert shown.args[0] == "error" and "Could not export" in shown.args[1]
    page.shutdown()


@pytest.fixture
def aborting_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny GGUF whose vocabulary holds one token string twice: llama.cpp's loader fails a GGML_ASSERT."""
    from app.gguf import synthetic

    real = synthetic.vocabulary

    def repeated(n_vocab: int) -> tuple[list[str], list[float], list[int]]:
        tokens, scores, types = real(n_vocab)
        tokens[-1] = tokens[-2]
        return tokens, scores, types

    with monkeypatch.context() as patch:
        patch.setattr(synthetic, "vocabulary", repeated)
        return synthetic.write_tiny_gguf(tmp_path / "repeated-token.gguf", synthetic.TinySpec(n_vocab=300))


def test_a_model_that_makes_llama_cpp_abort_is_a_message_and_the_conversation_stays(
    page: ChatPage, aborting_model: Path, qtbot, tmp_path: Path
) -> None:
    conversation = page.history.create("Kept")
    page.history.add_message(conversation.id, "user", "Name a colour.")
    page.history.add_message(conversation.id, "assistant", "Blue.")
    page.reload_conversations()
    page.open_conversation(conversation.id)

    with qtbot.waitSignal(page.engineFailed, timeout=60_000) as failed:
        page.load_model(str(aborting_model), SETTINGS)
    assertion = "GGML_ASSERT(id_to_token.size() == token_to_id.size()) failed"
    assert assertion in failed.args[0] and "loading the model" in failed.args[0]
    assert page.banner.isVisible() and assertion in page.banner.label.text()
    assert page.banner.button("Reload") is None  # the same file would abort again
    assert "SIGABRT" not in page.banner.label.text()
    assert page.isVisible() and page.conversation is not None and page.conversation.id == conversation.id
    assert [(w.role, w.text) for w in page.messages.widgets] == [("user", "Name a colour."), ("assistant", "Blue.")]
    assert [m.content for m in page.history.messages(conversation.id)] == ["Name a colour.", "Blue."]

    # The page goes on: another model loads in a new engine process.
    info = load(page, qtbot, write_tiny_gguf(tmp_path / "fine.gguf", TinySpec(n_vocab=300)))
    assert page.model_info == info and page.engine.running
