"""An engine process that dies (SIGKILL, or llama.cpp aborting) while the server uses it: every request open
on it ends at once with an error in its API's own format that says the engine stopped and why; a request
still waiting for a sequence is answered by the engine loaded again; the scheduler forgets the dead engine
(its memory goes back to the budget) and the next request loads the model again.

Clients carry timeouts so that a request left waiting fails the test instead of hanging it; none of them
measures speed."""

from __future__ import annotations

import dataclasses
import os
import signal
import struct
import threading
from collections.abc import Callable
from pathlib import Path

import anthropic
import openai
import psutil
import pytest
from conftest import ENGINE, GEMMA_ID, KEY, TINY_ID, config

from app.chat import protocol as p
from app.core.errors import EngineError
from app.gguf.synthetic import write_tiny_gguf
from app.server.runner import ServerThread
from app.server.scheduler import Need
from app.server.shared_chat import STOPPED, open_shared
from tests.support.api_server import http, running_server, wait_until

pytestmark = pytest.mark.slow

WAIT_S = 120.0  # a client's limit: only a request left waiting for good ever reaches it
COUNTING = "Counting: " + ", ".join(str(i) for i in range(1, 21)) + ","
LONG = 400  # tokens: Gemma 270M counts on well past the kill
# a started assistant reply that Gemma continues for the whole LONG (greedy)
PREFILLED = [{"role": "user", "content": "Count on."}, {"role": "assistant", "content": COUNTING}]
GREEDY = {"temperature": 0}  # the Anthropic SDK takes it in the body only


def clients(server: ServerThread) -> tuple[openai.OpenAI, anthropic.Anthropic]:
    return (openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0, timeout=WAIT_S),
            anthropic.Anthropic(base_url=server.base_url, api_key=KEY, max_retries=0, timeout=WAIT_S))


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Runs `work` on a thread; the list gets its result or the exception it raised."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except Exception as exc:  # the test looks at it
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def joined(thread: threading.Thread, outcome: list[object], what: str) -> object:
    thread.join(WAIT_S)
    assert not thread.is_alive(), f"{what} still waits for an engine that is gone"
    return outcome[0]


def engine_users(server: ServerThread, model_id: str) -> tuple[int, int]:
    """(requests the engine streams now, leases held or waited for) of the model's engine."""
    slot = server.state.scheduler._slots[model_id]
    return slot.client.open_requests, slot.users


def says_killed(message: str) -> bool:
    return "stopped" in message and "SIGKILL" in message


def test_a_killed_engine_ends_every_open_request_and_loads_again(library: Path) -> None:
    engine = dataclasses.replace(ENGINE, n_parallel=4)
    with running_server(config(library, engine=engine, fallback_template="gemma")) as server:
        assert server.loop is not None
        scheduler = server.state.scheduler
        oai, claude = clients(server)

        opened = open_shared(server.state, server.loop, str(library / "google" / "gemma-3-270m-q4_k_m.gguf"))
        assert opened is not None
        chat = opened[0]
        pid = scheduler.pid_of(GEMMA_ID)
        assert pid is not None

        # 1. a whole (not streamed) OpenAI completion
        whole, whole_out = in_thread(lambda: oai.completions.create(
            model=GEMMA_ID, prompt=COUNTING, max_tokens=LONG, temperature=0))
        wait_until(lambda: engine_users(server, GEMMA_ID)[0] == 1, "the whole request runs")
        # 2. an OpenAI chat stream and 3. an Anthropic stream, each past its first event
        oai_stream = oai.chat.completions.create(
            model=GEMMA_ID, messages=PREFILLED, max_tokens=LONG, temperature=0, stream=True)
        oai_chunks = iter(oai_stream)
        next(oai_chunks)
        claude_stream = claude.messages.create(
            model=GEMMA_ID, max_tokens=LONG, messages=PREFILLED, extra_body=GREEDY, stream=True)
        claude_events = iter(claude_stream)
        next(claude_events)
        # 4. a reply of the Chat page on the same engine
        chat_started = threading.Event()

        def chat_reply() -> list[p.Token | p.Done]:
            events = []
            for event in chat.stream([p.ChatMessage("user", COUNTING)], request_id=9, template="raw",
                                     sampling=p.Sampling(temperature=0, max_tokens=LONG)):
                events.append(event)
                chat_started.set()
            return events

        chat_thread, chat_out = in_thread(chat_reply)
        assert chat_started.wait(WAIT_S)
        wait_until(lambda: engine_users(server, GEMMA_ID) == (4, 4), "four requests run on the engine")
        # 5. one more request waits for a sequence
        queued, queued_out = in_thread(lambda: claude.messages.create(
            model=GEMMA_ID, max_tokens=4, extra_body=GREEDY, messages=[{"role": "user", "content": "Hello"}]))
        wait_until(lambda: engine_users(server, GEMMA_ID)[1] == 5, "the fifth request waits for a sequence")

        os.kill(pid, signal.SIGKILL)

        with pytest.raises(openai.APIError) as oai_error:
            for _ in oai_chunks:
                pass
        assert says_killed(oai_error.value.message), oai_error.value.message
        assert isinstance(oai_error.value.body, dict) and oai_error.value.body["type"] == "server_error"

        with pytest.raises(anthropic.APIStatusError) as claude_error:
            for _ in claude_events:
                pass
        body = claude_error.value.body
        assert isinstance(body, dict) and body["type"] == "error", body
        assert body["error"]["type"] == "api_error" and says_killed(body["error"]["message"]), body

        failed = joined(whole, whole_out, "the whole request")
        assert isinstance(failed, openai.InternalServerError), failed
        assert failed.status_code == 500 and isinstance(failed.body, dict), failed
        assert failed.body["type"] == "server_error" and says_killed(failed.body["message"]), failed.body

        chat_failed = joined(chat_thread, chat_out, "the Chat page's reply")
        assert isinstance(chat_failed, EngineError), chat_failed
        assert says_killed(str(chat_failed)), str(chat_failed)
        assert "send the message again" in chat_failed.hint, chat_failed.hint

        answered = joined(queued, queued_out, "the request waiting for a sequence")
        assert isinstance(answered, anthropic.types.Message), answered
        assert answered.stop_reason == "max_tokens" and answered.usage.output_tokens == 4

        # the request log has a line for each request the death ended, with what its client was told
        wait_until(lambda: sum(r.finish_reason == "error" for r in scheduler.history) == 4, "four failures logged")
        failures = [r for r in scheduler.history if r.finish_reason == "error"]
        assert sorted(r.source for r in failures) == ["api", "api", "api", "chat"]
        assert {r.status for r in failures} == {500} and all(says_killed(r.error) for r in failures), failures
        told = {oai_error.value.message, body["error"]["message"], failed.body["message"], chat_failed.message}
        assert {r.error for r in failures} == told
        assert all(r.prompt_tokens > 0 and r.generated_tokens > 0 for r in failures)  # how far each had come

        new_pid = scheduler.pid_of(GEMMA_ID)
        assert new_pid is not None and new_pid != pid
        loaded = scheduler.loaded()
        assert [m.id for m in loaded] == [GEMMA_ID]
        assert scheduler.used() == Need(loaded[0].ram, loaded[0].vram, loaded[0].rpc)  # the dead one's is gone

        again = oai.completions.create(model=GEMMA_ID, prompt="The capital of France is", max_tokens=4,
                                       temperature=0)
        assert again.choices[0].finish_reason == "length" and again.usage is not None
        assert again.usage.completion_tokens == 4
        events = list(chat.stream([p.ChatMessage("user", "Hello")], request_id=10, template="raw",
                                  sampling=p.Sampling(temperature=0, max_tokens=4)))
        assert isinstance(events[-1], p.Done) and events[-1].stats.generated_tokens == 4  # the chat goes on


def test_an_idle_engine_killed_is_forgotten_then_loaded_again(library: Path) -> None:
    with running_server(config(library)) as server:
        scheduler = server.state.scheduler
        oai, _ = clients(server)
        oai.chat.completions.create(model=TINY_ID, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
        pid = scheduler.pid_of(TINY_ID)
        assert pid is not None and scheduler.used().ram > 0

        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: scheduler.loaded() == [], "the scheduler forgot the dead engine")
        assert scheduler.used() == Need(0)

        reply = oai.chat.completions.create(model=TINY_ID, messages=[{"role": "user", "content": "hi"}],
                                            max_tokens=2)
        assert reply.choices[0].finish_reason == "length"
        assert scheduler.pid_of(TINY_ID) not in (None, pid)


def _piece(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def test_an_engine_dying_while_it_loads(library: Path, tmp_path: Path) -> None:
    """Two tokens with the same text: llama.cpp asserts (GGML_ASSERT, then abort) while loading the vocabulary."""
    root = tmp_path / "library"
    folder = root / "broken"
    folder.mkdir(parents=True)
    path = write_tiny_gguf(folder / "duplicate-token.gguf")
    data = path.read_bytes()
    assert data.count(_piece("\u2581w1")) == 1
    path.write_bytes(data.replace(_piece("\u2581w1"), _piece("\u2581w0")))
    (folder / "chat-a.gguf").symlink_to(library / "tiny" / "chat-a.gguf")

    with running_server(config(library, folders=(root,))) as server:
        scheduler = server.state.scheduler
        body = b'{"model": "broken/duplicate-token", "prompt": "Hello", "max_tokens": 2}'
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        status, answer = http("POST", f"{server.base_url}/v1/completions", body, headers, timeout=WAIT_S)
        assert status == 500, answer
        message = answer["error"]["message"]
        assert answer["error"]["type"] == "server_error", answer
        assert "could not be loaded" in message and "GGML_ASSERT" in message, message
        assert scheduler.loaded() == [] and scheduler.used() == Need(0)

        _, claude = clients(server)
        reply = claude.messages.create(model="broken/chat-a", max_tokens=2,
                                       messages=[{"role": "user", "content": "hi"}])
        assert reply.stop_reason == "max_tokens"  # the server goes on serving


def test_requests_on_a_hung_engine_end_when_the_server_stops(library: Path) -> None:
    """An engine that no longer answers (stopped with SIGSTOP here, as a native call that never returns would
    leave it) is terminated when the server stops; the requests still waiting on it end too."""
    engine = dataclasses.replace(ENGINE, n_parallel=2)
    server_cm = running_server(config(library, engine=engine))
    server = server_cm.__enter__()
    pid = None
    stopped = False
    try:
        assert server.loop is not None
        oai, _ = clients(server)
        opened = open_shared(server.state, server.loop, str(library / "google" / "gemma-3-270m-q4_k_m.gguf"))
        assert opened is not None
        chat = opened[0]
        pid = server.state.scheduler.pid_of(GEMMA_ID)
        assert pid is not None
        api_stream = oai.completions.create(model=GEMMA_ID, prompt=COUNTING, max_tokens=LONG, temperature=0,
                                            stream=True)
        api_chunks = iter(api_stream)
        next(api_chunks)
        chat_started = threading.Event()

        def chat_reply() -> None:
            for _ in chat.stream([p.ChatMessage("user", COUNTING)], request_id=3, template="raw",
                                 sampling=p.Sampling(temperature=0, max_tokens=LONG)):
                chat_started.set()

        chat_thread, chat_out = in_thread(chat_reply)
        assert chat_started.wait(WAIT_S)

        def drain() -> None:
            for _ in api_chunks:
                pass

        api_thread, api_out = in_thread(drain)
        os.kill(pid, signal.SIGSTOP)
        stopped = True
        server_cm.__exit__(None, None, None)

        chat_failed = joined(chat_thread, chat_out, "the Chat page's reply")
        assert isinstance(chat_failed, EngineError) and chat_failed.message == STOPPED, chat_failed
        api_end = joined(api_thread, api_out, "the API stream")
        assert "Timeout" not in type(api_end).__name__, api_end  # ended by the server, not by the client's limit
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        if pid is not None and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)
        if not stopped:
            server_cm.__exit__(None, None, None)
