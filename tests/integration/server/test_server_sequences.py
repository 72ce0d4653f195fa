"""Which llama.cpp sequence a new request gets on an engine of several (`serve --parallel N`): with a cache
stream per sequence, llama.cpp decodes one run of consecutive busy sequence ids per pass over the weights,
so a new request takes the free sequence that keeps the busy ids packed, even when a higher free one holds a
longer part of its prompt. Observed on the real Gemma 270M through the openai SDK, from the sequence each
request reports when it ends."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from conftest import ENGINE, GEMMA_ID, KEY, config

from app.server.runner import ServerThread
from app.server.scheduler import Finished
from tests.support.api_server import running_server, wait_until

pytestmark = pytest.mark.slow

PARALLEL = 4
PROMPTS = ("Write a long story about a dragon who guards a mountain of gold.",
           "List the prime numbers, one per line, starting from two.",
           "Describe the sea at night, the stars and the sound of the waves.",
           "Tell me the history of the Roman Empire in great detail, century by century.")


@pytest.fixture(scope="module")
def four(library: Path) -> Iterator[ServerThread]:
    with running_server(config(library, engine=dataclasses.replace(ENGINE, n_parallel=PARALLEL))) as running:
        yield running


class _Stream:
    """A streamed completion that is running: its first piece has arrived."""

    def __init__(self, client: openai.OpenAI, prompt: str) -> None:
        self.prompt = prompt
        self.response = client.completions.create(model=GEMMA_ID, prompt=prompt, max_tokens=900, temperature=0,
                                                  stream=True)
        next(iter(self.response))


def _close(server: ServerThread, stream: _Stream) -> Finished:
    """Closes the stream (the server stops its generation) and returns its record."""
    history = server.state.scheduler.history
    before = server.state.scheduler.served
    stream.response.close()
    wait_until(lambda: server.state.scheduler.served > before, "the closed stream's generation ended")
    record = history[-1]
    assert record.finish_reason == "stopped"
    return record


def test_a_new_request_takes_the_free_sequence_that_keeps_busy_ids_packed(four: ServerThread) -> None:
    client = openai.OpenAI(base_url=f"{four.base_url}/v1", api_key=KEY, max_retries=0)
    streams = [_Stream(client, prompt) for prompt in PROMPTS]  # one after another: all four sequences busy
    # The last one ends first, then the second: sequences 1 and 3 are free, and 0 and 2 still generate.
    last, second = _close(four, streams[3]), _close(four, streams[1])
    # The new prompt shares its first sentence with the cache of sequence 3, and only <bos> with that of 1;
    # sequence 3 would leave the busy ids 0, 2, 3 (two passes per step), sequence 1 makes them 0, 1, 2 (one).
    new = _Stream(client, PROMPTS[3] + " Begin with Romulus and Remus.")
    records = [_close(four, new), _close(four, streams[0]), _close(four, streams[2])]
    assert (last.sequence, second.sequence) == (3, 1)
    assert [r.sequence for r in records] == [1, 0, 2]
    # The same engine goes on reusing caches when it is free to: the prompt sent again alone finds its prefix.
    again = client.completions.create(model=GEMMA_ID, prompt=PROMPTS[3] + " Begin with Romulus and Remus.",
                                      max_tokens=4, temperature=0)
    assert again.usage is not None and again.usage.prompt_tokens_details is not None
    assert (again.usage.prompt_tokens_details.cached_tokens or 0) > again.usage.prompt_tokens // 2
    assert four.state.scheduler.history[-1].sequence == 1
