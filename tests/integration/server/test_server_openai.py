"""The real `openai` SDK against the server on 127.0.0.1, serving the real Gemma 270M and tiny chat models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import GEMMA_ID, KEY, TINY_ID, config

from app.server.catalog import Catalog
from app.server.runner import ServerThread
from tests.support.api_server import http

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)


def test_models_are_listed_by_stable_ids(client: openai.OpenAI, library: Path) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == sorted([GEMMA_ID, TINY_ID, "tiny/chat-b"])
    # A restart scans again and finds the same ids.
    assert [m.id for m in Catalog(lambda: [library]).refresh()] == ids
    assert client.models.retrieve(TINY_ID).id == TINY_ID


def test_whole_and_streamed_chat_agree_and_count_usage(client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hello world"},
                {"role": "assistant", "content": "the model"}, {"role": "user", "content": "what time"}]
    whole = client.chat.completions.create(model=TINY_ID, messages=messages, max_tokens=6, temperature=0)
    choice = whole.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason in ("stop", "length")
    assert whole.usage is not None and whole.usage.prompt_tokens > 10
    assert 0 < whole.usage.completion_tokens <= 6
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens

    chunks = list(client.chat.completions.create(model=TINY_ID, messages=messages, max_tokens=6,
                                                 temperature=0, stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == choice.finish_reason
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.prompt_tokens == whole.usage.prompt_tokens
    # The same conversation again: its prompt comes from the engine's cache.
    assert usage.prompt_tokens_details is not None and (usage.prompt_tokens_details.cached_tokens or 0) > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_completions_whole_and_streamed(client: openai.OpenAI) -> None:
    whole = client.completions.create(model=GEMMA_ID, prompt="The capital of France is", max_tokens=8,
                                      temperature=0)
    assert whole.choices[0].text.strip() and whole.choices[0].finish_reason == "length"
    assert whole.usage is not None and whole.usage.completion_tokens == 8 and whole.usage.prompt_tokens >= 5
    streamed = client.completions.create(model=GEMMA_ID, prompt="The capital of France is", max_tokens=8,
                                         temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == whole.choices[0].text


def test_stop_strings_end_the_answer(client: openai.OpenAI) -> None:
    prompt = "Once upon a time"
    free = client.completions.create(model=GEMMA_ID, prompt=prompt, max_tokens=10, temperature=0).choices[0].text
    words = free.split()
    assert len(words) >= 3, free
    stop = " " + words[2]
    stopped = client.completions.create(model=GEMMA_ID, prompt=prompt, max_tokens=10, temperature=0, stop=[stop])
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].text == free[: free.index(stop)]


def test_seeded_sampling_repeats(client: openai.OpenAI) -> None:
    def sample(seed: int) -> str:
        return client.completions.create(model=GEMMA_ID, prompt="My favourite animal is", max_tokens=8,
                                         temperature=1.0, top_p=0.95, seed=seed,
                                         extra_body={"top_k": 40, "min_p": 0.0}).choices[0].text

    def after_other_prompt(seed: int) -> str:
        # The engine's logits depend slightly on how much of the prompt came from its cache (4 tokens
        # evaluated give another sample at temperature 1 than 1 token), so each draw starts from the same cache.
        client.completions.create(model=GEMMA_ID, prompt="Once upon a time", max_tokens=1, temperature=0)
        return sample(seed)

    assert after_other_prompt(7) == after_other_prompt(7)


def test_a_base_model_without_template_cannot_chat(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="no chat template") as caught:
        client.chat.completions.create(model=GEMMA_ID, messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    assert "--chat-template" in str(caught.value)


def test_a_bad_key_is_401(server: ServerThread) -> None:
    bad = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.models.list()
    assert caught.value.status_code == 401
    assert "wrong-key" not in str(caught.value.body)
    status, body = http("GET", f"{server.base_url}/v1/models")
    assert status == 401 and body["error"]["type"] == "authentication_error"


@pytest.mark.parametrize("model", ["nope/missing", "../../../etc/passwd", "/etc/passwd"])
def test_an_unknown_model_is_404(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 404 and "not in the library" in str(caught.value)


def test_a_model_is_reached_by_id_only_never_by_path(client: openai.OpenAI, gemma_model: Path) -> None:
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model=str(gemma_model), prompt="hi", max_tokens=1)


def test_an_oversize_body_is_413(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=TINY_ID, messages=[{"role": "user", "content": "x" * 300_000}])
    assert caught.value.status_code == 413


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, "n"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, "temperature"),
    ({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}, "tools"),
])
def test_malformed_requests_are_400(client: openai.OpenAI, body: dict[str, object], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=TINY_ID, **body)  # type: ignore[call-overload]
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, dict) and caught.value.body["param"] == param


def test_a_body_that_is_not_json_is_400(server: ServerThread) -> None:
    status, body = http("POST", f"{server.base_url}/v1/chat/completions", b"{not json",
                        {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    status, body = http("POST", f"{server.base_url}/v1/completions", json.dumps([1, 2]).encode(),
                        {"Authorization": f"Bearer {KEY}"})
    assert status == 400 and "JSON object" in body["error"]["message"]


def test_health_shows_loaded_models_only_with_the_key(server: ServerThread, client: openai.OpenAI) -> None:
    client.completions.create(model=TINY_ID, prompt="hello", max_tokens=1)
    status, open_body = http("GET", f"{server.base_url}/health")
    assert status == 200 and open_body == {"status": "ok"}
    _, body = http("GET", f"{server.base_url}/health", headers={"Authorization": f"Bearer {KEY}"})
    loaded = {m["id"]: m for m in body["loaded"]}
    assert TINY_ID in loaded and loaded[TINY_ID]["ram_bytes"] > 0
    memory = body["memory"]
    assert memory["used_ram_bytes"] == sum(m["ram_bytes"] for m in body["loaded"]) <= memory["allowed_ram_bytes"]


def test_unknown_paths_answer_in_the_openai_error_format(server: ServerThread) -> None:
    status, body = http("GET", f"{server.base_url}/v1/embeddings-nope", headers={"Authorization": f"Bearer {KEY}"})
    assert status == 404 and "/v1/embeddings-nope" in body["error"]["message"]


def test_a_prompt_longer_than_the_context_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="no longer fits the context"):
        client.completions.create(model=TINY_ID, prompt="hello world " * 1500, max_tokens=4)


def test_requests_to_one_engine_take_turns(client: openai.OpenAI) -> None:
    """One generation at a time per engine: concurrent clients wait, and each gets its whole answer."""
    from concurrent.futures import ThreadPoolExecutor

    def ask(i: int) -> tuple[int, str | None]:
        whole = client.completions.create(model=TINY_ID, prompt=f"hello {i}", max_tokens=5, temperature=0)
        assert whole.usage is not None and whole.choices[0].finish_reason in ("stop", "length")
        streamed = list(client.completions.create(model=TINY_ID, prompt=f"hello {i}", max_tokens=5, stream=True))
        return whole.usage.completion_tokens, streamed[-1].choices[0].finish_reason

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, range(6)))
    assert all(0 < tokens <= 5 and finish in ("stop", "length") for tokens, finish in answers)


def test_a_base_model_chats_with_the_servers_fallback_template(library: Path) -> None:
    from tests.support.api_server import running_server

    with running_server(config(library, fallback_template="gemma")) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=KEY, max_retries=0)
        reply = client.chat.completions.create(model=GEMMA_ID, max_tokens=6, temperature=0,
                                               messages=[{"role": "user", "content": "What is the capital of France?"}])
        assert reply.choices[0].message.content and reply.usage is not None and reply.usage.prompt_tokens > 8
