"""A chat already on its own engine when the local server starts moves to the server's engine (one copy of the
model in memory): after the reply in flight, its own engine process ends, the conversation goes on on a
sequence of the server's engine, and the label says so. A model the server cannot have stays in the chat's
own engine, and the banner says why. Real Gemma 3 270M, real server and engine processes."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.chat import protocol as p
from app.core.units import format_bytes
from app.server.scheduler import Need, estimate_need
from app.server.shared_chat import MoveAnswer, move_refusal, served_model_for
from app.ui.pages.chat import ChatPage
from app.ui.pages.server import ServerPage
from tests.support.chat_server_pages import chat_and_server, engine_processes
from tests.support.shots import save_shot, shots_dir

SETTINGS = p.EngineSettings(n_ctx=1024, n_threads=2, n_batch=256)
COUNTING = "Counting: " + ", ".join(str(i) for i in range(1, 21)) + ","  # Gemma 270M counts on and on


@dataclasses.dataclass
class Setup:
    server: ServerPage
    chat: ChatPage
    library: Path  # the server's models folder, with Gemma in it


@pytest.fixture
def setup(qtbot: Any, tmp_path: Path, gemma_model: Path) -> Iterator[Setup]:
    with chat_and_server(qtbot, tmp_path, gemma_model, max_tokens=400) as pages:
        yield Setup(pages.server, pages.chat, pages.model.parent.parent)


def own_engine(page: ChatPage, qtbot: Any, model: Path) -> int:
    """Loads `model` in the chat's own engine (no server yet); its process id."""
    with qtbot.waitSignal(page.modelLoaded, timeout=120_000):
        page.load_model(str(model), SETTINGS)
    assert not page.engine.shared and page.engine.own_model
    pid = page.engine.pid
    assert pid is not None and engine_processes() == [pid]
    return pid


def start_server(server: ServerPage, qtbot: Any) -> None:
    with qtbot.waitSignal(server.server_changed, timeout=60_000) as started:
        server.start_button.click()
    assert started.args == [True]


def reply(page: ChatPage, qtbot: Any, text: str, max_tokens: int) -> p.Done:
    page.prefs = dataclasses.replace(page.prefs, max_tokens=max_tokens)
    page.input.setPlainText(text)
    with qtbot.waitSignal(page.replyFinished, timeout=120_000) as finished:
        page.send_button.click()
    done: p.Done = finished.args[0]
    return done


def test_the_chat_moves_to_the_server_after_its_reply(qtbot: Any, setup: Setup) -> None:
    page, server = setup.chat, setup.server
    own_pid = own_engine(page, qtbot, setup.library / "gemma" / "gemma-3-270m-q4_k_m.gguf")

    # The server starts while a reply streams: the reply goes on in the chat's own engine.
    page.input.setPlainText(COUNTING)
    with qtbot.waitSignal(page.replyFinished, timeout=120_000) as first:
        page.send_button.click()
        qtbot.waitUntil(lambda: bool(page._stream_text), timeout=120_000)
        start_server(server, qtbot)
        scheduler = server.server.state.scheduler
        streamed = len(page._stream_text)
        qtbot.waitUntil(lambda: len(page._stream_text) > streamed, timeout=60_000)  # still streaming, on its own
        assert page.streaming and page.engine.own_model and page.engine.pid == own_pid
        assert scheduler.loaded() == []  # nothing moved mid-reply
        page.stop_button.click()  # the reply ends (a whole reply would end the same way, only later)
    said: p.Done = first.args[0]
    assert said.finish_reason == "stopped" and said.text

    # Then the chat moves: its own engine ends, the server's engine has the model, once.
    with qtbot.waitSignal(page.modelLoaded, timeout=120_000):
        pass
    assert page.engine.shared and "shared with the local server" in page.model_label.text()
    [model] = scheduler.loaded()
    qtbot.waitUntil(lambda: engine_processes() == [scheduler.pid_of(model.id)], timeout=30_000)
    assert own_pid not in engine_processes()

    # The next reply runs on the server's engine, with the whole conversation sent again.
    done = reply(page, qtbot, "Go on.", 8)
    assert done.finish_reason == "length" and done.text
    assert done.stats.prompt_tokens > said.stats.prompt_tokens + said.stats.generated_tokens // 2
    assert scheduler.history[-1].source == "chat" and scheduler.history[-1].generated_tokens == 8
    assert engine_processes() == [scheduler.pid_of(model.id)]
    assert page.conversation is not None and len(page.history.messages(page.conversation.id)) == 4
    if shots_dir() is not None:
        qtbot.waitUntil(lambda: bool(page.messages.widgets) and page.messages.widgets[-1].isVisible())
        save_shot(page, "chat-moved-to-server")


def test_a_model_the_server_refuses_stays_in_the_chat_engine(qtbot: Any, setup: Setup) -> None:
    page, server = setup.chat, setup.server
    own_path = setup.library / "gemma" / "gemma-3-270m-q4_k_m.gguf"
    own_pid = own_engine(page, qtbot, own_path)
    held: list[int] = []

    def tight_budget(serving: bool) -> None:  # before the chat hears of the server: 1 MiB was free at its start
        if serving:
            scheduler = server.server.state.scheduler
            scheduler.budget = Need(1 << 20)
            model = served_model_for(server.server.state, str(own_path))
            assert model is not None
            held.append(estimate_need(model, SETTINGS, scheduler._hardware).ram)

    local = page.ctx.local_server
    local.changed.disconnect(page._mover._server_changed)
    local.changed.connect(tight_budget)
    local.changed.connect(page._mover._server_changed)
    start_server(server, qtbot)
    qtbot.waitUntil(lambda: "stays on its own engine" in page.banner.label.text(), timeout=60_000)
    text = page.banner.label.text()
    # the numbers count the chat's own copy as free for the move: even then the model does not fit
    assert "needs" in text and f"more than the {format_bytes((1 << 20) + held[0])} this server may use" in text, text
    # said with what the user has here: the Server page's and Settings' controls, not `serve`'s flags
    assert "Parallel requests on the Server page" in text and "Settings ▸ Performance" in text, text
    assert "--" not in text, text
    save_shot(page, "chat-stays-on-own-engine")
    assert not page.engine.shared and page.engine.pid == own_pid
    done = reply(page, qtbot, "Hello.", 4)
    assert done.finish_reason == "length"
    assert engine_processes() == [own_pid] and server.server.state.scheduler.loaded() == []


def test_a_model_outside_the_library_stays_in_the_chat_engine(qtbot: Any, setup: Setup, tmp_path: Path,
                                                               gemma_model: Path) -> None:
    page, server = setup.chat, setup.server
    elsewhere = tmp_path / "elsewhere" / gemma_model.name  # the same bytes, not a file of the server's library
    elsewhere.parent.mkdir()
    try:
        os.link(gemma_model.resolve(), elsewhere)
    except OSError:  # another file system
        shutil.copyfile(gemma_model, elsewhere)
    own_pid = own_engine(page, qtbot, elsewhere)

    start_server(server, qtbot)
    qtbot.waitUntil(lambda: "stays on its own engine" in page.banner.label.text(), timeout=60_000)
    assert "library does not hold this model file" in page.banner.label.text()
    assert not page.engine.shared and page.engine.pid == own_pid
    assert reply(page, qtbot, "Hello.", 4).finish_reason == "length"
    assert engine_processes() == [own_pid] and server.server.state.scheduler.loaded() == []


def test_the_model_the_chat_holds_moves_where_only_one_copy_fits(qtbot: Any, setup: Setup) -> None:
    """The RAM free before the chat loaded Gemma fits one copy (the server's) but not two: the server, measuring
    the RAM free at its start, sees less than its copy needs; the chat's own copy counts as free for its move."""
    page, server = setup.chat, setup.server
    path = setup.library / "gemma" / "gemma-3-270m-q4_k_m.gguf"
    own_pid = own_engine(page, qtbot, path)
    measured: list[Need] = []
    asked_alone: list[MoveAnswer] = []

    def one_copy_free(serving: bool) -> None:  # before the chat hears of the server
        if not serving:
            return
        state, loop = server.server.state, server.server.loop
        scheduler = state.scheduler
        model = served_model_for(state, str(path))
        assert model is not None and scheduler.ram_measured and scheduler.measured_at > page._mover._loaded_at
        served = estimate_need(model, state.config.engine, scheduler._hardware).ram
        held = estimate_need(model, SETTINGS, scheduler._hardware).ram
        scheduler.budget = dataclasses.replace(scheduler.budget, ram=served + held // 2 - held)
        measured.append(scheduler.budget)
        measured.append(Need(held))
        asked_alone.append(move_refusal(state, loop, str(path)))  # the budget alone, the chat's copy not counted

    local = page.ctx.local_server
    local.changed.disconnect(page._mover._server_changed)
    local.changed.connect(one_copy_free)
    local.changed.connect(page._mover._server_changed)
    moved: list[object] = []
    page.modelLoaded.connect(moved.append)
    start_server(server, qtbot)
    qtbot.waitUntil(lambda: bool(moved) or "stays on its own engine" in page.banner.label.text(), timeout=120_000)
    assert moved, page.banner.label.text()  # without the chat's copy counted: "needs … more than the …"
    [refused] = asked_alone
    assert refused.refusal is not None and "more than the" in refused.refusal, refused

    scheduler = server.server.state.scheduler
    assert page.engine.shared and "shared with the local server" in page.model_label.text()
    assert not page.banner.isVisible() or "stays on its own engine" not in page.banner.label.text()
    [model] = scheduler.loaded()
    qtbot.waitUntil(lambda: engine_processes() == [scheduler.pid_of(model.id)], timeout=30_000)
    assert own_pid not in engine_processes()
    budget, held = measured
    assert scheduler.budget.ram == budget.ram + held.ram  # the chat's copy joined the budget, once
    assert model.ram <= scheduler.budget.ram < model.ram + held.ram  # one copy fits, two would not
    assert reply(page, qtbot, "Hello.", 4).finish_reason == "length"
    assert engine_processes() == [scheduler.pid_of(model.id)]
