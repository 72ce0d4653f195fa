"""Kimi K2's chat template (the pinned llama.cpp's models/templates/Kimi-K2-Instruct.jinja) renders exactly
as transformers renders it. Its tool turns keep a queue in a list the template makes (`namespace(ids=[])`,
`ids.append`, `ids.pop(0)`): our sandbox lets a template change its own lists and dicts, where Jinja's
immutable sandbox (and so transformers' apply_chat_template) refuses; there the reference is transformers'
rendering with a sandbox that allows it, and a hand-written string."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import pytest
from jinja2.sandbox import SandboxedEnvironment

from app.chat.protocol import ChatMessage as M
from app.chat.protocol import ToolCall
from app.chat.templates import message_dict, render

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]
CHAT = [M("system", "Be brief."), M("user", "Hi"), M("assistant", "Hello!"), M("user", "Weather in Paris?")]
TOOL_TURNS = [
    M("user", "Weather in Paris and Rome?"),
    M("assistant", "", tool_calls=(ToolCall("call_a", "get_weather", json.dumps({"city": "Paris"})),
                                   ToolCall("call_b", "get_weather", json.dumps({"city": "Rome"})))),
    M("tool", "sunny", tool_call_id="call_a"),
    M("tool", "rain", tool_call_id="call_b"),
    M("assistant", "Paris is sunny; Rome has rain."),
    M("user", "Thanks"),
]
EXPECTED_TOOL_TURNS = (
    "<|im_system|>system<|im_middle|>You are Kimi, an AI assistant created by Moonshot AI.<|im_end|>\n"
    "<|im_user|>user<|im_middle|>Weather in Paris and Rome?<|im_end|>"
    "<|im_assistant|>assistant<|im_middle|><|tool_calls_section_begin|>"
    '<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|>'
    '<|tool_call_begin|>functions.get_weather:1<|tool_call_argument_begin|>{"city": "Rome"}<|tool_call_end|>'
    "<|tool_calls_section_end|><|im_end|>"
    "<|im_system|>tool<|im_middle|>## Return of functions.get_weather:0\nsunny<|im_end|>"
    "<|im_system|>tool<|im_middle|>## Return of functions.get_weather:1\nrain<|im_end|>"
    "<|im_assistant|>assistant<|im_middle|>Paris is sunny; Rome has rain.<|im_end|>"
    "<|im_user|>user<|im_middle|>Thanks<|im_end|>"
    "<|im_assistant|>assistant<|im_middle|>"
)


@pytest.fixture(scope="module")
def kimi(llama_cpp_sources: Path) -> str:
    return (llama_cpp_sources / "models" / "templates" / "Kimi-K2-Instruct.jinja").read_text(encoding="utf-8")


def transformers_render(source: str, messages: list[M], tools: list[dict[str, Any]] | None) -> str:
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered = render_jinja_template(conversations=[[message_dict(m) for m in messages]], tools=tools,
                                     chat_template=source, add_generation_prompt=True)
    text = rendered[0] if isinstance(rendered, tuple) else rendered
    return str(text[0] if isinstance(text, list) else text)


def transformers_render_mutable(source: str, messages: list[M], tools: list[dict[str, Any]] | None) -> str:
    """transformers' environment (chat_template_utils._cached_compile_jinja_template: trim_blocks,
    lstrip_blocks, loop controls, its tojson, raise_exception, strftime_now), on Jinja's sandbox that lets
    templates change lists, which the template's tool turns need."""

    def tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None,
               separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    env = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    extra = {"tools": tools} if tools else {}
    return env.from_string(source).render(messages=[message_dict(m) for m in messages],
                                          add_generation_prompt=True, **extra)


def test_a_conversation_renders_as_transformers_renders_it(kimi: str) -> None:
    ours = render(kimi, CHAT, tools=TOOLS)
    assert ours == transformers_render(kimi, CHAT, TOOLS)
    assert ours.startswith('<|im_system|>tool_declare<|im_middle|>[{"type": "function"')
    assert "<|im_system|>system<|im_middle|>Be brief.<|im_end|>" in ours


def test_tool_turns_pair_results_with_calls_through_the_templates_own_list(kimi: str) -> None:
    ours = render(kimi, TOOL_TURNS)
    assert ours == EXPECTED_TOOL_TURNS
    assert ours == transformers_render_mutable(kimi, TOOL_TURNS, None)
    with_tools = render(kimi, TOOL_TURNS, tools=TOOLS)
    assert with_tools == transformers_render_mutable(kimi, TOOL_TURNS, TOOLS)


def test_the_thinking_variant_renders_tool_turns(llama_cpp_sources: Path) -> None:
    source = (llama_cpp_sources / "models" / "templates" / "Kimi-K2-Thinking.jinja").read_text(encoding="utf-8")
    ours = render(source, TOOL_TURNS, tools=TOOLS)
    assert ours == transformers_render_mutable(source, TOOL_TURNS, TOOLS)
    assert "## Return of functions.get_weather:1\nrain" in ours
