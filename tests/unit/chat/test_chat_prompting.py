"""Context policy: a word-per-token tokenizer stands in for the vocabulary (the rules are about counts)."""

from __future__ import annotations

import pytest

from app.chat.prompting import build, reserve_for_reply
from app.chat.protocol import ChatMessage as M
from app.chat.protocol import Generate, ModelInfo, Sampling
from app.core.errors import ContextFullError


def info(n_ctx: int) -> ModelInfo:
    return ModelInfo("m", "d", n_ctx, 4096, 2, 100, 0, None, "<s>", "</s>", True, 0.0)


def words(text: str, add_special: bool) -> list[int]:
    return ([1] if add_special else []) + [len(w) for w in text.split()]


def conversation(turns: int) -> tuple[M, ...]:
    messages = [M("system", "sys " * 5)]
    for i in range(turns):
        messages += [M("user", f"question{i} " * 10), M("assistant", f"answer{i} " * 10)]
    return (*messages, M("user", "last question"))


def test_fits_untouched() -> None:
    prompt = build(Generate(1, conversation(1), template="chatml", sampling=Sampling(max_tokens=10)),
                   info(200), words)
    assert prompt.dropped_messages == 0
    assert prompt.stop == ("<|im_end|>",)


def test_stop_policy_refuses_a_prompt_over_the_context() -> None:
    request = Generate(1, conversation(20), template="chatml", sampling=Sampling(max_tokens=10))
    with pytest.raises(ContextFullError):
        build(request, info(200), words)


def test_drop_oldest_keeps_system_and_last_and_whole_turns() -> None:
    request = Generate(1, conversation(20), template="chatml", sampling=Sampling(max_tokens=10),
                       context_policy="drop_oldest")
    prompt = build(request, info(200), words)
    assert prompt.dropped_messages > 0 and prompt.dropped_messages % 2 == 0
    assert len(prompt.tokens) <= 200 - reserve_for_reply(200, 10)
    assert prompt.tokens[0] == 1  # BOS: the vocabulary wants it and chatml does not write it


def test_raw_prompt_drop_keeps_bos_and_the_end() -> None:
    text = " ".join(["x" * (i % 7 + 1) for i in range(500)])
    request = Generate(1, prompt=text, sampling=Sampling(max_tokens=8), context_policy="drop_oldest")
    prompt = build(request, info(100), words)
    assert prompt.tokens[0] == 1 and len(prompt.tokens) == 100 - 8
    assert prompt.tokens[-1] == words(text, False)[-1]


def test_nothing_to_drop_is_an_error() -> None:
    request = Generate(1, (M("user", "word " * 500),), template="chatml", context_policy="drop_oldest")
    with pytest.raises(ContextFullError):
        build(request, info(100), words)
