"""The Chat page's replies on the API server's engine (app.server.shared_chat), without Qt: a model of the
library is leased through the scheduler, a file outside it is not shared, and a reply in flight when the
server stops ends with a clear error (the engine ends it as "stopped", which the chat did not ask for)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from app.chat import protocol as p
from app.core.errors import EngineError
from app.server.shared_chat import open_shared
from tests.integration.server.conftest import ENGINE, GEMMA_ID, TINY_ID, config
from tests.support.api_server import running_server, wait_until

PARALLEL = dataclasses.replace(ENGINE, n_parallel=2)
COUNTING = "Counting: " + ", ".join(str(i) for i in range(1, 21)) + ","


def test_a_chat_reply_runs_on_the_servers_engine(library: Path, tmp_path: Path) -> None:
    with running_server(config(library, engine=PARALLEL)) as server:
        assert server.loop is not None
        opened = open_shared(server.state, server.loop, str(library / "tiny" / "chat-a.gguf"))
        assert opened is not None
        chat, info = opened
        scheduler = server.state.scheduler
        assert [m.id for m in scheduler.loaded()] == [TINY_ID] and chat.pid == scheduler.pid_of(TINY_ID)
        assert info.n_ctx == PARALLEL.n_ctx  # the server's settings
        events = list(chat.stream([p.ChatMessage("user", "hi")], request_id=77,
                                  sampling=p.Sampling(temperature=0, max_tokens=8)))
        done = events[-1]
        assert isinstance(done, p.Done) and done.request_id == 77 and done.stats.generated_tokens > 0
        assert all(e.request_id == 77 for e in events)  # the chat's id, not the engine's
        wait_until(lambda: not scheduler.loaded()[0].busy and scheduler.served == 1, "the lease went back")
        last = scheduler.history[-1]
        assert (last.model_id, last.source, last.generated_tokens) == (TINY_ID, "chat", done.stats.generated_tokens)

        elsewhere = tmp_path / "elsewhere.gguf"
        elsewhere.write_bytes((library / "tiny" / "chat-b.gguf").read_bytes())
        assert open_shared(server.state, server.loop, str(elsewhere)) is None  # outside the library


def test_a_reply_in_flight_ends_when_the_server_stops(library: Path) -> None:
    server_cm = running_server(config(library, engine=PARALLEL))
    server = server_cm.__enter__()
    stopped = False
    try:
        assert server.loop is not None
        opened = open_shared(server.state, server.loop, str(library / "google" / "gemma-3-270m-q4_k_m.gguf"))
        assert opened is not None and opened[0].model.id == GEMMA_ID
        chat = opened[0]
        first = threading.Event()
        outcome: list[object] = []

        def reply() -> None:  # Gemma 270M counts on for the whole max_tokens
            try:
                for event in chat.stream([p.ChatMessage("user", COUNTING)], request_id=1, template="raw",
                                         sampling=p.Sampling(temperature=0, max_tokens=400)):
                    first.set()
                    outcome.append(event)
            except EngineError as exc:
                outcome.append(exc)
            finally:
                first.set()

        thread = threading.Thread(target=reply, daemon=True)
        thread.start()
        assert first.wait(120)
        assert not any(isinstance(e, p.Done) for e in outcome), "the reply ended before the server stopped"
        server_cm.__exit__(None, None, None)
        stopped = True
        thread.join(60)
        assert not thread.is_alive(), "the chat's stream still waits for an engine that is gone"
        assert isinstance(outcome[-1], EngineError)
        with pytest.raises(EngineError, match="local server stopped"):
            next(iter(chat.stream([p.ChatMessage("user", "again")], request_id=2)))
    finally:
        if not stopped:
            server_cm.__exit__(None, None, None)
