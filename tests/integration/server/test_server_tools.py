"""Structured output and tools through the real `openai` and `anthropic` SDKs, on the real Gemma 270M given
Qwen 3's chat template (the pinned llama.cpp's models/templates) as the server's chat template option.

A model this small does not call tools or write JSON on its own: the grammar makes it (llama-server of the
pinned version answered `tool_choice: "required"` with plain text)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from conftest import GEMMA_ID, KEY, config

from app.server.runner import ServerThread
from tests.support.api_server import running_server

pytestmark = pytest.mark.slow

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 24},  # bounded: FIELD-NOTES
        "age": {"type": "integer"},
        "role": {"enum": ["engineer", "artist", "farmer"]},
    },
    "required": ["name", "age", "role"],
    "additionalProperties": False,
}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 32}},
                   "required": ["city"]},
}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "The time in a time zone",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string", "maxLength": 32}}, "required": ["zone"]},
}}
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}


@pytest.fixture(scope="module")
def qwen_server(library: Path, llama_cpp_sources: Path) -> Iterator[ServerThread]:
    template = (llama_cpp_sources / "models" / "templates" / "Qwen-Qwen3-0.6B.jinja").read_text(encoding="utf-8")
    with running_server(config(library, fallback_template=template)) as running:
        yield running


@pytest.fixture(scope="module")
def client(qwen_server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{qwen_server.base_url}/v1", api_key=KEY, max_retries=0)


@pytest.fixture(scope="module")
def claude(qwen_server: ServerThread) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=qwen_server.base_url, api_key=KEY, max_retries=0)


def _valid_person(value: Any) -> None:
    assert isinstance(value, dict) and set(value) == {"name", "age", "role"}
    assert isinstance(value["name"], str) and 1 <= len(value["name"]) <= 24
    assert isinstance(value["age"], int) and not isinstance(value["age"], bool)
    assert value["role"] in ("engineer", "artist", "farmer")


def test_json_schema_output_parses_and_validates(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=GEMMA_ID, messages=[{"role": "user", "content": "Invent a person."}], max_tokens=80, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
    )
    assert reply.choices[0].finish_reason == "stop"
    _valid_person(json.loads(reply.choices[0].message.content or ""))


def test_json_object_output_streams_as_json(client: openai.OpenAI) -> None:
    chunks = client.chat.completions.create(
        model=GEMMA_ID, messages=[{"role": "user", "content": "Describe Paris."}], max_tokens=60, temperature=0.7,
        seed=7, response_format={"type": "json_object"}, stream=True,
    )
    parts = [(c.choices[0].delta.content or "", c.choices[0].finish_reason) for c in chunks if c.choices]
    text = "".join(p for p, _ in parts)
    if parts[-1][1] == "stop":  # max_tokens may cut a long object short; a finished one is always JSON
        assert isinstance(json.loads(text), dict)
    assert text.lstrip().startswith("{")


def test_a_schema_the_converter_cannot_take_is_400_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=GEMMA_ID, messages=[QUESTION],
            response_format={"type": "json_schema", "json_schema": {"name": "odd", "schema": {"type": "frobnicate"}}},
        )
    body = caught.value.body
    assert isinstance(body, dict) and body["param"] == "response_format" and "frobnicate" in body["message"]


def test_required_tool_call_round_trip(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model=GEMMA_ID, messages=[QUESTION], tools=[WEATHER, TIME],
                                           tool_choice="required", max_tokens=60, temperature=0)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name in ("get_weather", "get_time")
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == ({"city"} if call.function.name == "get_weather" else {"zone"})

    # The call and its result go back in; the model answers in text.
    history: list[Any] = [QUESTION, choice.message.model_dump(exclude_none=True),
                          {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 18 degrees"}]
    final = client.chat.completions.create(model=GEMMA_ID, messages=history, tools=[WEATHER, TIME],
                                           tool_choice="none", max_tokens=20, temperature=0)
    assert final.choices[0].message.tool_calls is None
    assert final.choices[0].message.content
    assert final.usage is not None and first.usage is not None
    assert final.usage.prompt_tokens > first.usage.prompt_tokens  # the call and its result are in the prompt


def test_named_tool_call_streams_as_deltas(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=GEMMA_ID, messages=[QUESTION], tools=[WEATHER, TIME], max_tokens=60, temperature=0, stream=True,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for part in delta.tool_calls or []:
            entry = calls.setdefault(part.index, {"name": "", "arguments": "", "id": ""})
            entry["id"] += part.id or ""
            entry["name"] += part.function.name or "" if part.function else ""
            entry["arguments"] += part.function.arguments or "" if part.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls" and list(calls) == [0]
    assert calls[0]["name"] == "get_time" and calls[0]["id"].startswith("call_")
    assert set(json.loads(calls[0]["arguments"])) == {"zone"}


def test_anthropic_tool_use_round_trip(claude: anthropic.Anthropic) -> None:
    tool = {"name": "get_weather", "description": "The current weather in a city",
            "input_schema": WEATHER["function"]["parameters"]}  # type: ignore[index]
    first = claude.messages.create(model=GEMMA_ID, max_tokens=60, messages=[QUESTION], tools=[tool],  # type: ignore[list-item]
                                   tool_choice={"type": "tool", "name": "get_weather"},
                                   extra_body={"temperature": 0})
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1 and uses[0].name == "get_weather" and uses[0].id.startswith("toolu_")
    assert isinstance(uses[0].input, dict) and set(uses[0].input) == {"city"}

    history: list[Any] = [QUESTION, {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id,
                                                        "content": "Sunny, 18 degrees"}]}]
    final = claude.messages.create(model=GEMMA_ID, max_tokens=20, messages=history, tools=[tool],  # type: ignore[list-item]
                                   tool_choice={"type": "none"}, extra_body={"temperature": 0})
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert [b.type for b in final.content] == ["text"] and final.content[0].text  # type: ignore[union-attr]

    # Streamed, the SDK assembles the same tool_use block from input_json_delta events.
    with claude.messages.stream(model=GEMMA_ID, max_tokens=60, messages=[QUESTION], tools=[tool],  # type: ignore[list-item]
                                tool_choice={"type": "any"}, extra_body={"temperature": 0}) as stream:
        streamed = stream.get_final_message()
    assert streamed.stop_reason == "tool_use"
    streamed_uses = [b for b in streamed.content if b.type == "tool_use"]
    assert [(b.name, b.input) for b in streamed_uses] == [(uses[0].name, uses[0].input)]
