"""Assistant prefill: a conversation ending in a started assistant reply is continued, not answered anew."""

from __future__ import annotations

from app.chat.prompting import build
from app.chat.protocol import ChatMessage as M
from app.chat.protocol import Generate, ModelInfo, Sampling, ToolCall


def info() -> ModelInfo:
    return ModelInfo("m", "d", 4096, 4096, 2, 100, 0, None, "<s>", "</s>", False, 0.0)


def rendered(*messages: M) -> str:
    seen: list[str] = []

    def tokenize(text: str, _add_special: bool) -> list[int]:
        seen.append(text)
        return [ord(c) for c in text]

    build(Generate(1, messages, template="chatml", sampling=Sampling(max_tokens=8)), info(), tokenize)
    return seen[-1]


def test_a_started_reply_is_continued() -> None:
    text = rendered(M("user", "Name a colour."), M("assistant", "The colour is"))
    assert text.endswith("<|im_start|>assistant\nThe colour is")
    assert text.count("<|im_start|>assistant") == 1


def test_a_reply_that_is_not_started_gets_the_usual_prompt() -> None:
    plain = rendered(M("user", "Name a colour."))
    assert plain.endswith("<|im_start|>assistant\n")
    assert rendered(M("user", "Name a colour."), M("assistant", "")) != plain + "The colour is"


def test_an_assistant_tool_call_is_a_turn_not_a_prefill() -> None:
    call = M("assistant", "Calling f.", tool_calls=(ToolCall("call_1", "f", "{}"),))
    assert rendered(M("user", "go"), call).endswith("<|im_start|>assistant\n")  # a finished turn, then a new one
