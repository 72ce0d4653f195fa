"""Which models the server keeps loaded, and what a vanished client leaves behind."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import ENGINE, GEMMA_ID, KEY, TINY_ID, config

from app.server.catalog import Catalog
from app.server.runner import ServerThread
from app.server.scheduler import estimate_need
from tests.support.api_server import http, running_server, wait_until
from tests.support.tiny_gguf import TinySpec, write_tiny_gguf

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {KEY}"}


def loaded(server: ServerThread) -> list[dict[str, Any]]:
    _, body = http("GET", f"{server.base_url}/health", headers=AUTH)
    return list(body["loaded"])


def test_a_client_that_disconnects_mid_stream_frees_the_engine(server: ServerThread) -> None:
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
    history = server.state.scheduler.history
    before = len(history)
    stream = client.completions.create(model=GEMMA_ID, prompt="Write a very long story about a dragon.",
                                       max_tokens=900, temperature=0, stream=True)
    pieces = iter(stream)
    next(pieces)
    next(pieces)
    stream.close()  # the connection goes; the engine would otherwise write 900 tokens
    wait_until(lambda: len(history) > before, "the abandoned generation ended")
    record = history[-1]
    assert record.model_id == GEMMA_ID and record.finish_reason == "stopped" and record.generated_tokens < 900
    served = client.completions.create(model=GEMMA_ID, prompt="The capital of France is", max_tokens=3,
                                       temperature=0)
    assert served.choices[0].finish_reason == "length"


def test_a_client_that_disconnects_from_a_whole_answer_frees_the_engine(server: ServerThread) -> None:
    history = server.state.scheduler.history
    before = len(history)
    body = json.dumps({"model": GEMMA_ID, "prompt": "Write a very long story about a dragon.", "max_tokens": 900,
                       "temperature": 0}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        wait_until(lambda: any(m["id"] == GEMMA_ID and m["busy"] for m in loaded(server)), "the answer started")
    wait_until(lambda: len(history) > before, "the abandoned generation ended")
    assert history[-1].finish_reason == "stopped" and history[-1].generated_tokens < 900
    wait_until(lambda: not any(m["busy"] for m in loaded(server)), "the engine is free")


def test_idle_models_unload_after_the_ttl(library: Path) -> None:
    with running_server(config(library, models_ttl=0.5)) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
        client.completions.create(model=TINY_ID, prompt="hello", max_tokens=2)
        wait_until(lambda: loaded(server) == [], "the idle model unloaded")
        # and it loads again on the next request
        assert client.completions.create(model=TINY_ID, prompt="hello", max_tokens=2).choices[0].text is not None


def test_lru_unload_when_two_models_do_not_fit_together(library: Path) -> None:
    models = {m.id: m for m in Catalog(lambda: [library]).refresh()}
    need_a = estimate_need(models["tiny/chat-a"], ENGINE, None).ram
    need_b = estimate_need(models["tiny/chat-b"], ENGINE, None).ram
    limit = max(need_a, need_b) * 3 // 2  # either alone fits, both together do not
    with running_server(config(library, memory_limit=limit)) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
        client.completions.create(model="tiny/chat-a", prompt="hello", max_tokens=2)
        client.completions.create(model="tiny/chat-b", prompt="hello", max_tokens=2)
        assert [m["id"] for m in loaded(server)] == ["tiny/chat-b"]
        client.completions.create(model="tiny/chat-a", prompt="hello", max_tokens=2)
        assert [m["id"] for m in loaded(server)] == ["tiny/chat-a"]


def test_a_model_that_can_never_fit_is_400_with_the_numbers(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    (root / "big").mkdir(parents=True)
    (root / "small").mkdir()
    write_tiny_gguf(root / "big" / "wide.gguf", TinySpec(n_embd=256, n_ff=1024, n_vocab=600, n_layer=4))
    write_tiny_gguf(root / "small" / "narrow.gguf", TinySpec(n_vocab=600))
    models = {m.id: m for m in Catalog(lambda: [root]).refresh()}
    big = estimate_need(models["big/wide"], ENGINE, None).ram
    small = estimate_need(models["small/narrow"], ENGINE, None).ram
    assert big > 2 * small
    with running_server(config(root, memory_limit=(big + small) // 2)) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.BadRequestError, match="cannot be loaded as the server is set up") as caught:
            client.completions.create(model="big/wide", prompt="hello", max_tokens=2)
        assert "MiB of RAM" in caught.value.message and "--memory-limit" in caught.value.message
        assert loaded(server) == []
        assert client.completions.create(model="small/narrow", prompt="hello", max_tokens=2).choices


def test_a_model_that_needs_a_busy_models_room_is_503_until_it_is_idle(library: Path) -> None:
    models = {m.id: m for m in Catalog(lambda: [library]).refresh()}
    gemma = estimate_need(models[GEMMA_ID], ENGINE, None).ram
    tiny = estimate_need(models[TINY_ID], ENGINE, None).ram
    with running_server(config(library, memory_limit=max(gemma, tiny) + min(gemma, tiny) // 2)) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
        stream = client.completions.create(model=GEMMA_ID, prompt="Write a very long story about a dragon.",
                                           max_tokens=900, temperature=0, stream=True)
        next(iter(stream))
        with pytest.raises(openai.InternalServerError) as caught:
            client.completions.create(model=TINY_ID, prompt="hello", max_tokens=2)
        assert caught.value.status_code == 503 and caught.value.response.headers["retry-after"]
        assert "busy" in caught.value.message
        stream.close()
        wait_until(lambda: not any(m["busy"] for m in loaded(server)), "the engine is free")
        assert client.completions.create(model=TINY_ID, prompt="hello", max_tokens=2).choices
        assert [m["id"] for m in loaded(server)] == [TINY_ID]


def test_an_engine_killed_mid_stream_ends_that_stream_with_an_error_and_is_loaded_again(library: Path) -> None:
    import os
    import signal

    with running_server(config(library)) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
        stream = client.completions.create(model=GEMMA_ID, prompt="Write a very long story about a dragon.",
                                           max_tokens=900, temperature=0, stream=True)
        pieces = iter(stream)
        next(pieces)
        pid = server.state.scheduler.pid_of(GEMMA_ID)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(openai.APIError, match="engine"):
            for _chunk in pieces:
                pass
        again = client.completions.create(model=GEMMA_ID, prompt="The capital of France is", max_tokens=3,
                                          temperature=0)
        assert again.choices[0].finish_reason == "length"
        assert server.state.scheduler.pid_of(GEMMA_ID) not in (None, pid)
