"""More tool-call syntaxes (Kimi K2, Command-R, Granite 3, GLM 4.5+): detected from the pinned llama.cpp's
real templates, their own renderings of a call parse back, and a forced call's grammar is accepted by
llama.cpp's grammar parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.chat import tool_calls as tc
from app.chat.protocol import ChatMessage, ToolCall
from app.chat.templates import render

TEMPLATES = {
    "Kimi-K2-Instruct": "kimi",
    "moonshotai-Kimi-K2": "kimi",
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use": "command-r",
    "ibm-granite-granite-3.3-2B-Instruct": "granite",
    "ibm-granite-granite-4.0": "hermes",  # Granite 4 writes hermes calls
    "GLM-4.6": "glm",
}
RENDERS_CALLS = ("moonshotai-Kimi-K2", "Kimi-K2-Instruct", "CohereForAI-c4ai-command-r7b-12-2024-tool_use", "GLM-4.6")
TOOLS = [tc.Tool("get_weather", "The weather in a city",
                 {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})]
ARGS = {"city": "Paris", "unit": "celsius"}
END_MARKERS = ("<|im_end|>", "<|END_OF_TURN_TOKEN|>", "<|end_of_text|>", "<|user|>", "<|observation|>",
               "<|im_user|>", "<|im_system|>")
SPECIALS = {"bos_token": "<s>", "eos_token": "</s>"}
NEW = [f for f in tc.FAMILIES if f.name in ("kimi", "command-r", "granite", "glm")]


def _template(sources: Path, name: str) -> str:
    return (sources / "models" / "templates" / f"{name}.jinja").read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "family"), sorted(TEMPLATES.items()))
def test_family_is_detected(llama_cpp_sources: Path, name: str, family: str) -> None:
    assert tc.family_of(_template(llama_cpp_sources, name)).name == family


@pytest.mark.parametrize("name", RENDERS_CALLS)
def test_the_templates_own_rendering_of_a_call_parses_back(llama_cpp_sources: Path, name: str) -> None:
    source = _template(llama_cpp_sources, name)
    family = tc.family_of(source)
    question = ChatMessage("user", "What is the weather in Paris?")
    answer = ChatMessage("assistant", "", tool_calls=(ToolCall("call_0", "get_weather", json.dumps(ARGS)),))
    tools = [t.as_openai() for t in TOOLS]
    prompt = render(source, [question], tools=tools, add_generation_prompt=True, **SPECIALS)
    whole = render(source, [question, answer], tools=tools, add_generation_prompt=False, **SPECIALS)
    cut = next((i for i, (a, b) in enumerate(zip(prompt, whole, strict=False)) if a != b), len(prompt))
    if cut < len(prompt):  # the generation prompt ends with more than the reply starts with
        cut = max(whole.rfind(">", 0, cut), whole.rfind("\n", 0, cut)) + 1
    generated = whole[cut:]
    ends = [i for i in (generated.find(m) for m in END_MARKERS) if i >= 0]
    generated = generated[: min(ends)] if ends else generated
    reply = tc.parse_reply(generated, family)
    assert [(c.name, json.loads(c.arguments)) for c in reply.calls] == [("get_weather", ARGS)], generated
    assert reply.content.strip() == "", generated


@pytest.mark.parametrize("family", NEW, ids=lambda f: f.name)
def test_each_syntax_parses_its_own_example(family: tc.Family) -> None:
    reply = tc.parse_reply("Let me look." + family.example("get_weather", json.dumps(ARGS)), family)
    assert [(c.name, json.loads(c.arguments)) for c in reply.calls] == [("get_weather", ARGS)]
    assert reply.content == "Let me look."


@pytest.mark.parametrize("family", NEW, ids=lambda f: f.name)
def test_a_forced_call_grammar_is_valid_gbnf(family: tc.Family) -> None:
    import llama_cpp

    grammar = tc.forced_call_grammar(family, TOOLS)
    parsed = llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
    assert parsed is not None


def test_command_r_markers_are_not_content() -> None:
    family = next(f for f in NEW if f.name == "command-r")
    reply = tc.parse_reply("<|START_THINKING|>plan<|END_THINKING|><|START_RESPONSE|>Hello.<|END_RESPONSE|>", family)
    assert reply.content == "Hello." and reply.calls == ()
