"""A reply taken apart as it streams: content shown at once, held back from where a call or a think block
may begin, and the same content, reasoning and calls as the whole reply's parse."""

from __future__ import annotations

import pytest

from app.chat import tool_calls as tc
from app.server.replies import ReplyStream

HERMES = tc.family_of("<tool_call>")
REPLY = 'Sure, one moment. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_stream_agrees_with_the_whole_reply(size: int) -> None:
    stream = ReplyStream(HERMES)
    fed = [stream.feed(REPLY[i:i + size]) for i in range(0, len(REPLY), size)]
    assert "".join(t for _, t in fed) == "Sure, one moment. "  # nothing of the call leaks as content
    assert all(not r for r, _ in fed)
    reply, thought, rest = stream.finish()
    whole = tc.parse_reply(REPLY, HERMES)
    assert thought == rest == "" and reply.content == whole.content == "Sure, one moment."
    assert [(c.name, c.arguments) for c in reply.calls] == [("get_weather", '{"city": "Paris"}')]


def test_plain_text_streams_through() -> None:
    stream = ReplyStream(None)
    assert stream.feed("Hello <") == ("", "Hello ")  # '<' may begin a think tag
    assert stream.feed("b>world") == ("", "<b>world")
    reply, thought, rest = stream.finish()
    assert reply.content == "Hello <b>world" and thought == rest == ""


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_reasoning_streams_apart_from_the_content(size: int) -> None:
    text = "<think>\nThe user greets.\n</think>\n\nHello there!"
    stream = ReplyStream(HERMES)
    fed = [stream.feed(text[i:i + size]) for i in range(0, len(text), size)]
    reply, thought, rest = stream.finish()
    assert "".join(r for r, _ in fed) == "The user greets." and thought == ""
    assert "".join(c for _, c in fed) == "Hello there!" and rest == ""
    assert reply.reasoning == "The user greets." and reply.content == "Hello there!"


def test_plan_forces_calls_by_grammar_only_when_asked() -> None:
    from app.server.replies import plan
    from app.server.schemas import parse_chat

    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    user = [{"role": "user", "content": "hi"}]
    qwen = "{{ tools }}<tool_call>"
    auto = plan(parse_chat({"model": "m", "messages": user, "tools": tools}), qwen, None)
    assert auto.family is HERMES and auto.sampling.grammar is None and auto.tools_json
    required = plan(parse_chat({"model": "m", "messages": user, "tools": tools, "tool_choice": "required"}), qwen,
                    None)
    assert required.sampling.grammar is not None and "<tool_call>" in required.sampling.grammar
    none = plan(parse_chat({"model": "m", "messages": user, "tools": tools, "tool_choice": "none"}), qwen, None)
    assert none.family is None and none.tools_json == auto.tools_json  # same prompt, nothing parsed
    plain = plan(parse_chat({"model": "m", "messages": user}), "auto", qwen)
    assert plain.family is None and plain.tools_json is None and not plain.sampling.special_text
    # gpt-oss answers in channels marked by control tokens, tools or not.
    harmony = plan(parse_chat({"model": "m", "messages": user}), "auto", "<|channel|>x<|message|>")
    assert harmony.family is not None and harmony.family.name == "harmony" and harmony.sampling.special_text
