"""The engine in its own process, through the client: streaming, stop, errors, and surviving a kill."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat import protocol as p
from app.chat.client import EngineClient
from app.chat.history import History, ReplyWriter
from app.core.errors import Cancelled, ContextFullError, EngineError, TemplateError

pytestmark = pytest.mark.slow

SETTINGS = p.EngineSettings(n_ctx=1024, n_threads=2, n_batch=256)
USER = (p.ChatMessage("user", "Tell me about the sea."),)


@pytest.fixture(scope="module")
def client(gemma_model: Path) -> Iterator[EngineClient]:
    with EngineClient() as c:
        c.load(str(gemma_model), SETTINGS)
        yield c


def test_llama_logs_reach_our_logger(gemma_model: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app")
    with EngineClient() as c:
        c.load(str(gemma_model), SETTINGS)
    llama_lines = [r.getMessage() for r in caplog.records if r.name == "app.llama"]
    assert any("gemma3" in line for line in llama_lines)  # llama.cpp's own loader output, relayed


def test_ready_load_progress_and_info(gemma_model: Path) -> None:
    fractions: list[float] = []
    with EngineClient() as c:
        assert c.ready is not None and c.ready.llama_version
        info = c.load(str(gemma_model), SETTINGS, fractions.append)
        assert info.n_ctx == 1024 and info.chat_template is None
        assert fractions and fractions[-1] == pytest.approx(1.0)
        c.unload()
        with pytest.raises(EngineError, match="No model"):
            c.generate(USER, template="gemma")
    assert not c.alive


def test_stream_with_builtin_template(client: EngineClient) -> None:
    events = list(client.stream(USER, template="gemma", sampling=p.Sampling(temperature=0, max_tokens=12)))
    done = events[-1]
    assert isinstance(done, p.Done)
    assert all(isinstance(e, p.Token) for e in events[:-1])
    assert "".join(e.text for e in events[:-1] if isinstance(e, p.Token)) == done.text
    assert done.stats.generated_tokens >= 1 and done.stats.context_size == 1024


def test_no_template_is_a_clear_error_and_raw_mode_works(client: EngineClient) -> None:
    with pytest.raises(TemplateError, match="no chat template"):
        client.generate(USER)
    done = client.generate(prompt="The sea is", sampling=p.Sampling(temperature=0, max_tokens=8))
    assert done.text and done.finish_reason == "length"


def test_multi_turn_reuses_the_cache(client: EngineClient) -> None:
    greedy = p.Sampling(temperature=0, max_tokens=16)
    messages = list(USER)
    prompt_sizes = []
    for question in ("And the mountains?", "And the forests?", "And deserts?"):
        done = client.generate(messages, template="gemma", sampling=greedy)
        prompt_sizes.append((done.stats.prompt_tokens, done.stats.prompt_evaluated))
        messages += [p.ChatMessage("assistant", done.text), p.ChatMessage("user", question)]
    for total, evaluated in prompt_sizes[1:]:
        # Each turn evaluates only the new user turn plus a few re-tokenized tokens of the last reply.
        assert evaluated < total / 2
        assert evaluated <= 40


def test_stop_ends_a_generation(client: EngineClient) -> None:
    stream = client.stream(USER, template="gemma", sampling=p.Sampling(temperature=1.0, seed=5, max_tokens=500))
    first = next(stream)
    assert isinstance(first, p.Token)
    client.stop()
    rest = list(stream)
    done = rest[-1]
    assert isinstance(done, p.Done) and done.finish_reason == "stopped"
    assert done.stats.generated_tokens < 500
    # The engine is fine afterwards, and a later request is not stopped by the old Stop.
    after = client.generate(USER, template="gemma", sampling=p.Sampling(temperature=0, max_tokens=4))
    assert after.finish_reason == "length"


def test_regenerate_replaces_the_reply(client: EngineClient) -> None:
    a = client.generate(USER, template="gemma", sampling=p.Sampling(temperature=1.0, seed=1, max_tokens=10))
    b = client.generate(USER, template="gemma", sampling=p.Sampling(temperature=1.0, seed=2, max_tokens=10))
    assert b.stats.prompt_evaluated == 1
    assert a.text != b.text


def test_context_policies(client: EngineClient) -> None:
    long_turns: list[p.ChatMessage] = [p.ChatMessage("system", "Be brief.")]
    for i in range(12):
        long_turns += [p.ChatMessage("user", f"Tell me fact {i} " + "blah " * 60),
                       p.ChatMessage("assistant", "Fact. " * 30)]
    long_turns.append(p.ChatMessage("user", "Last one?"))
    with pytest.raises(ContextFullError):
        client.generate(long_turns, template="gemma", sampling=p.Sampling(max_tokens=8))
    done = client.generate(long_turns, template="gemma", sampling=p.Sampling(temperature=0, max_tokens=8),
                           context_policy="drop_oldest")
    assert done.stats.dropped_messages > 0
    assert done.stats.prompt_tokens < 1024


def test_stop_cancels_a_load(gemma_model: Path) -> None:
    with EngineClient() as c:
        c.send(p.Load(str(gemma_model), SETTINGS))
        c.stop()
        with pytest.raises(Cancelled):
            _wait_load(c)
        # Still usable:
        assert c.load(str(gemma_model), SETTINGS).n_ctx == 1024


def _wait_load(c: EngineClient) -> None:
    while True:
        event = c._next(60)
        if isinstance(event, p.LoadProgress):
            continue
        if isinstance(event, p.Error):
            from app.chat.client import error_from

            raise error_from(event)
        raise AssertionError(f"load was not cancelled: {event}")


def test_killed_engine_raises_and_history_keeps_the_stream(gemma_model: Path, tmp_path: Path) -> None:
    history = History(tmp_path / "chats.sqlite3")
    conversation = history.create("Crash test")
    history.add_message(conversation.id, "user", USER[0].content)
    with EngineClient() as c:
        c.load(str(gemma_model), SETTINGS)
        writer = ReplyWriter(history, conversation.id, interval=0)
        stream = c.stream(USER, template="gemma", sampling=p.Sampling(temperature=1.0, seed=9, max_tokens=2000))
        with pytest.raises(EngineError, match="killed") as info:
            for event in stream:
                if isinstance(event, p.Token):
                    writer.append(event.text)
                    if len(writer.text) > 20 and c.pid is not None:
                        os.kill(c.pid, signal.SIGKILL)
        writer.abandon()
        assert "SIGKILL" in str(info.value)
        assert not c.alive
        with pytest.raises(EngineError):
            c.stop()
    streamed = writer.text
    reopened = History(tmp_path / "chats.sqlite3")
    messages = reopened.messages(conversation.id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].content == streamed and len(streamed) > 20 and not messages[1].complete
    # Recovery: a new engine loads and answers.
    with EngineClient() as again:
        again.load(str(gemma_model), SETTINGS)
        assert again.generate(USER, template="gemma", sampling=p.Sampling(max_tokens=4)).text is not None


def test_close_ends_the_process(gemma_model: Path) -> None:
    c = EngineClient()
    c.start()
    pid = c.pid
    assert pid is not None and c.alive
    started = time.monotonic()
    c.close()
    assert time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
