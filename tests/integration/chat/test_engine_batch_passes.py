"""How many passes over the weights one step of the batched engine (app.chat.batch) costs, counted by llama.cpp
itself: a graph-evaluation callback sees the output node of every graph it computes, one per ubatch. With a
cache stream per sequence llama.cpp computes one ubatch per run of consecutive busy sequence ids, so a gap
(0, 2, 3) doubles a decode step; a new request takes the free sequence that closes the gap."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pytest

from app.chat import protocol as p
from app.chat.batch import BatchRunner
from app.chat.engine_core import Engine

pytestmark = pytest.mark.slow

SETTINGS = p.EngineSettings(n_ctx=256, n_threads=2, n_batch=64, n_parallel=4)
PROMPTS = ("Write a story about a dragon.", "List the prime numbers.", "Describe the sea at night.",
           "Tell me about the Roman Empire.")


class _CountedLlama:
    """llama_cpp as the engine uses it, with an evaluation callback on every context it makes."""

    def __init__(self, llama: Any) -> None:
        self._llama = llama
        ggml = __import__("llama_cpp._ggml", fromlist=["libggml"]).libggml
        self._name = ggml.ggml_get_name
        self._name.argtypes, self._name.restype = [ctypes.c_void_p], ctypes.c_char_p
        self.passes = 0
        self._callback = llama.ggml_backend_sched_eval_callback(self._seen)

    def _seen(self, tensor: int, ask: bool, _data: object) -> bool:
        if ask and self._name(tensor) == b"result_output":
            self.passes += 1
        return False  # no node's data is wanted: each graph is still computed in one go

    def llama_context_default_params(self) -> Any:
        params = self._llama.llama_context_default_params()
        params.cb_eval = self._callback
        return params

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llama, name)


def _request(prompt: str, request_id: int) -> p.Generate:
    return p.Generate(request_id, prompt=prompt, sampling=p.Sampling(temperature=0.0, max_tokens=200))


def test_a_new_request_closes_the_gap_and_a_decode_step_is_one_pass(gemma_model: Path) -> None:
    engine = Engine()
    llama = _CountedLlama(engine.L)
    engine.L = llama
    engine.load(str(gemma_model), SETTINGS)
    sent: list[object] = []
    runner = BatchRunner(engine, sent.append, token_interval=0.0)

    def step() -> int:
        before = llama.passes
        runner._step()
        return llama.passes - before

    def decoding() -> bool:  # every running request has its prompt in: the next step decodes one token each
        return all(job.next_token is not None for job in runner._jobs)

    try:
        for i, prompt in enumerate(PROMPTS):
            runner._admit(_request(prompt, i))
        while not decoding():
            step()
        assert [job.sequence.seq for job in runner._jobs] == [0, 1, 2, 3]
        assert step() == 1  # four busy sequences in a row: one pass
        runner._stop(3)
        runner._stop(1)
        assert step() == 2  # busy 0 and 2: a pass each
        runner._admit(_request(PROMPTS[3] + " Begin with Romulus.", 4))  # its prefix is cached on sequence 3
        assert {job.request_id: job.sequence.seq for job in runner._jobs}[4] == 1
        while not decoding():
            step()
        assert step() == 1  # busy 0, 1, 2: one pass again
    finally:
        runner._stop(None)
        engine.unload()
    assert not [e for e in sent if isinstance(e, p.Error)]
