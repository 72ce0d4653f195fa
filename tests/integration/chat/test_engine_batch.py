"""One engine, several sequences (app.chat.batch): concurrent requests through the shared client on the real
Gemma 270M — each gets the reply it gets alone, a Stop ends only its own request, prefixes are reused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.chat import protocol as p
from app.chat.batch_client import SharedEngineClient
from app.core.errors import ContextFullError

pytestmark = pytest.mark.slow

BASE = p.EngineSettings(n_ctx=512, n_threads=2, n_batch=128)
PARALLEL = 3
GREEDY = p.Sampling(temperature=0.0, max_tokens=12)
PROMPTS = ("The capital of France is", "Once upon a time, in a land far away,", "def fibonacci(n):")


def _request(client: SharedEngineClient, prompt: str, sampling: p.Sampling = GREEDY) -> p.Generate:
    return p.Generate(client.new_request_id(), prompt=prompt, sampling=sampling)


def _run(client: SharedEngineClient, request: p.Generate) -> p.Done:
    done = None
    for event in client.stream_request(request):
        if isinstance(event, p.Done):
            done = event
    assert done is not None
    return done


@pytest.fixture(scope="module")
def alone(gemma_model: Path) -> dict[str, str]:
    """Each prompt's greedy reply on an engine of one sequence (the ordinary path)."""
    client = SharedEngineClient()
    client.start()
    try:
        client.load(str(gemma_model), BASE)
        return {prompt: _run(client, _request(client, prompt)).text for prompt in PROMPTS}
    finally:
        client.close()


@pytest.fixture(scope="module")
def shared(gemma_model: Path) -> Iterator[SharedEngineClient]:
    client = SharedEngineClient()
    client.start()
    info = client.load(str(gemma_model), p.EngineSettings(**{**_fields(BASE), "n_parallel": PARALLEL}))
    assert info.n_ctx == BASE.n_ctx  # every sequence has the context asked for
    yield client
    client.close()


def _fields(settings: p.EngineSettings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in settings.__slots__}


def test_concurrent_requests_get_the_replies_they_get_alone(shared: SharedEngineClient,
                                                            alone: dict[str, str]) -> None:
    results: dict[str, p.Done] = {}
    errors: list[BaseException] = []

    def one(prompt: str) -> None:
        try:
            results[prompt] = _run(shared, _request(shared, prompt))
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(prompt,)) for prompt in PROMPTS * 2]  # more than the sequences
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert {prompt: done.text for prompt, done in results.items()} == alone
    for done in results.values():
        assert done.finish_reason == "length"
        assert done.stats.generated_tokens == GREEDY.max_tokens
        assert done.stats.context_size == BASE.n_ctx


def test_a_stop_ends_only_its_own_request(shared: SharedEngineClient, alone: dict[str, str]) -> None:
    long = _request(shared, PROMPTS[1], p.Sampling(temperature=0.0, max_tokens=400))
    events = shared.stream_request(long)
    first = next(events)  # the long request is running
    assert isinstance(first, p.Token)
    short = _run(shared, _request(shared, PROMPTS[0]))
    shared.stop(long.request_id)
    ends = [event for event in events if isinstance(event, p.Done)]
    assert ends[0].finish_reason == "stopped"
    assert ends[0].stats.generated_tokens < 400
    assert short.text == alone[PROMPTS[0]]


def test_a_repeated_prompt_reuses_its_sequence_cache(shared: SharedEngineClient) -> None:
    prompt = "A long shared preamble about sailing ships and the winds that drive them. " * 4
    first = _run(shared, _request(shared, prompt + "First question:"))
    again = _run(shared, _request(shared, prompt + "Second question:"))
    assert first.stats.prompt_evaluated == first.stats.prompt_tokens or first.stats.prompt_evaluated > 40
    assert again.stats.prompt_evaluated < again.stats.prompt_tokens // 4  # only the differing tail


def test_a_prompt_longer_than_a_sequence_fails_alone(shared: SharedEngineClient) -> None:
    with pytest.raises(ContextFullError):
        _run(shared, _request(shared, "word " * 2000))
    assert _run(shared, _request(shared, PROMPTS[2])).finish_reason == "length"  # the engine goes on
