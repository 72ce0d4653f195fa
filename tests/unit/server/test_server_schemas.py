from __future__ import annotations

from typing import Any

import pytest

from app.chat.protocol import Sampling
from app.server.errors import ApiError
from app.server.schemas import parse_chat, parse_completion, parse_json, parse_messages

USER = [{"role": "user", "content": "hi"}]


def test_chat_fields_become_sampling() -> None:
    request = parse_chat({"model": "m", "messages": [{"role": "developer", "content": "be brief"}, *USER],
                          "temperature": 0.2, "top_p": 0.5, "top_k": 7, "min_p": 0.1, "seed": 3,
                          "max_completion_tokens": 9, "max_tokens": 99, "stop": "END",
                          "presence_penalty": 0.5, "frequency_penalty": -0.5, "stream": True,
                          "stream_options": {"include_usage": True}})
    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.sampling == Sampling(temperature=0.2, top_p=0.5, top_k=7, min_p=0.1, seed=3, max_tokens=9,
                                        stop=("END",), presence_penalty=0.5, frequency_penalty=-0.5)
    assert request.stream and request.include_usage


def test_left_out_fields_keep_the_engine_defaults() -> None:
    assert parse_chat({"model": "m", "messages": USER}).sampling == Sampling()
    assert parse_completion({"model": "m", "prompt": "x"}).sampling.max_tokens == 16  # OpenAI's default


def test_text_parts_are_joined() -> None:
    request = parse_chat({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]})
    assert request.messages[0].content == "ab"


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": USER}, "model"),
    ({"model": "m", "messages": USER, "n": 3}, "n"),
    ({"model": "m", "messages": USER, "temperature": 3}, "temperature"),
    ({"model": "m", "messages": USER, "max_tokens": 0}, "max_tokens"),
    ({"model": "m", "messages": USER, "stop": [1]}, "stop"),
    ({"model": "m", "messages": USER, "response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "frobnicate"}}}}, "response_format"),
    ({"model": "m", "messages": USER, "response_format": {"type": "yaml"}}, "response_format"),
    ({"model": "m", "messages": USER, "tools": [{"type": "function"}]}, "tools"),
    ({"model": "m", "messages": USER, "tool_choice": "required"}, "tool_choice"),
    ({"model": "m", "messages": [{"role": "tool", "content": "18C"}]}, "messages[0].tool_call_id"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
     "messages[0].content[0].image_url.url"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0]"),
    ({"model": "m", "messages": "hi"}, "messages"),
])
def test_malformed_chat_is_refused_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_chat(body)
    assert caught.value.status == 400 and caught.value.param == param


def test_anthropic_messages() -> None:
    request = parse_messages({"model": "m", "max_tokens": 5, "system": [{"type": "text", "text": "sys"}],
                              "messages": USER, "stop_sequences": ["x", "y"], "temperature": 0.5})
    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.sampling.stop == ("x", "y") and request.sampling.max_tokens == 5
    for body in ({"model": "m", "messages": USER}, {"model": "m", "max_tokens": 5, "messages": USER,
                                                     "temperature": 1.5}):
        with pytest.raises(ApiError):
            parse_messages(body)


@pytest.mark.parametrize("body", [b"", b"[1]", b"{bad", b"[" * 100_000])
def test_bodies_that_are_not_objects(body: bytes) -> None:
    with pytest.raises(ApiError):
        parse_json(body)


def test_tools_and_tool_messages() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    request = parse_chat({"model": "m", "tools": tools, "tool_choice": {"type": "function", "function": {
        "name": "get_weather"}}, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"}]})
    assert request.tool_choice == "function" and request.tool_name == "get_weather"
    assert [t.name for t in request.tools] == ["get_weather"]
    assistant, tool = request.messages[1], request.messages[2]
    assert assistant.tool_calls[0].arguments == '{"city": "Paris"}'
    assert (tool.role, tool.tool_call_id, tool.name) == ("tool", "call_1", "get_weather")
    assert parse_chat({"model": "m", "messages": USER}).tool_choice == "none"
    assert parse_chat({"model": "m", "messages": USER, "response_format": {"type": "json_object"}}).sampling.grammar


def test_anthropic_tool_use_and_results() -> None:
    request = parse_messages({"model": "m", "max_tokens": 5, "tool_choice": {"type": "any"},
                              "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
                              "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Checking."}, {
            "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}]}]})
    assert request.tool_choice == "required"
    assert [m.role for m in request.messages] == ["user", "assistant", "tool"]
    assert request.messages[1].content == "Checking." and request.messages[1].tool_calls[0].name == "get_weather"
    assert request.messages[2].content == "18C" and request.messages[2].name == "get_weather"
