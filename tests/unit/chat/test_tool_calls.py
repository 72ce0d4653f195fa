"""Tool-call syntaxes: detected from real chat templates of the pinned llama.cpp (models/templates), and each
template's own rendering of an assistant's call parses back into that call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.chat import tool_calls as tc
from app.chat.protocol import ChatMessage, ToolCall
from app.chat.templates import render

REAL_TEMPLATES = {
    "Qwen-Qwen3-0.6B": "hermes",
    "Qwen3-Coder": "qwen3-xml",
    "Qwen3.5-4B": "qwen3-xml",
    "Qwen-Qwen2.5-7B-Instruct": "hermes",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use": "hermes",
    "meta-llama-Llama-3.1-8B-Instruct": "llama3",
    "meta-llama-Llama-3.2-3B-Instruct": "llama3",
    "mistralai-Mistral-Nemo-Instruct-2407": "mistral",
    "Mistral-Small-3.2-24B-Instruct-2506": "mistral-v11",
    "openai-gpt-oss-120b": "harmony",
    "deepseek-ai-DeepSeek-V3.1": "deepseek",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": "deepseek-r1",
}
TOOLS = [tc.Tool("get_weather", "The weather in a city",
                 {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})]
ARGS = {"city": "Paris", "unit": "celsius"}
# Where a turn ends: the engine stops at these end-of-generation tokens and never shows them.
END_MARKERS = ("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "</s>", "<｜end▁of▁sentence｜>", "<|call|>", "<|end|>")
SPECIALS = {"bos_token": "<s>", "eos_token": "</s>"}


def _template(sources: Path, name: str) -> str:
    return (sources / "models" / "templates" / f"{name}.jinja").read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "family"), sorted(REAL_TEMPLATES.items()))
def test_family_is_detected_from_the_template(llama_cpp_sources: Path, name: str, family: str) -> None:
    assert tc.family_of(_template(llama_cpp_sources, name)).name == family


def test_templates_without_tool_syntax_get_hermes() -> None:
    assert tc.family_of(None).name == "hermes"
    assert tc.family_of("{% for m in messages %}{{ m.content }}{% endfor %}").name == "hermes"


@pytest.mark.parametrize("name", sorted(REAL_TEMPLATES))
def test_the_templates_own_rendering_of_a_call_parses_back(llama_cpp_sources: Path, name: str) -> None:
    source = _template(llama_cpp_sources, name)
    family = tc.family_of(source)
    call_id = tc.template_call_id(family, "call_0123456789")
    question = ChatMessage("user", "What is the weather in Paris?")
    answer = ChatMessage("assistant", "", tool_calls=(ToolCall(call_id, "get_weather", json.dumps(ARGS)),))
    tools = [t.as_openai() for t in TOOLS]
    prompt = render(source, [question], tools=tools, add_generation_prompt=True, **SPECIALS)
    whole = render(source, [question, answer], tools=tools, add_generation_prompt=False, **SPECIALS)
    # What the model would have generated: the rendering past the generation prompt, up to the end of turn.
    cut = next((i for i, (a, b) in enumerate(zip(prompt, whole, strict=False)) if a != b), len(prompt))
    if cut < len(prompt):  # the generation prompt ends with more than the reply starts with (an open <think>)
        cut = max(whole.rfind(">", 0, cut), whole.rfind("\n", 0, cut)) + 1
    generated = whole[cut:]
    ends = [i for i in (generated.find(m) for m in END_MARKERS) if i >= 0]
    generated = generated[: min(ends)] if ends else generated
    reply = tc.parse_reply(generated, family)
    assert [(c.name, json.loads(c.arguments)) for c in reply.calls] == [("get_weather", ARGS)], generated
    assert reply.content.strip() == ""


@pytest.mark.parametrize("family", tc.FAMILIES, ids=lambda f: f.name)
def test_each_syntax_parses_its_own_example(family: tc.Family) -> None:
    text = family.example("get_weather", json.dumps(ARGS))
    # Llama 3 calls are the whole reply; harmony text outside a channel is not content.
    before = "" if family.name in ("llama3", "harmony") else "Let me look."
    reply = tc.parse_reply(before + text, family)
    assert [(c.name, json.loads(c.arguments)) for c in reply.calls] == [("get_weather", ARGS)]
    assert reply.content == before


def test_reasoning_is_kept_apart() -> None:
    hermes = tc.family_of("<tool_call>")
    reply = tc.parse_reply('<think>\nThe user wants weather.\n</think>\n\nSure.<tool_call>\n{"name": "f", '
                           '"arguments": {}}\n</tool_call>', hermes)
    assert reply.reasoning == "The user wants weather."
    assert reply.content == "Sure." and [c.name for c in reply.calls] == ["f"]
    # A template that opened the think block in the generation prompt: the reply only closes it.
    assert tc.parse_reply("pondering</think>The answer.", None) == tc.Reply("The answer.", "pondering", ())
    assert tc.parse_reply("Plain text.", None) == tc.Reply("Plain text.", None, ())


def test_harmony_channels() -> None:
    text = ("<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary "
            'to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}')
    reply = tc.parse_reply(text, tc.family_of("<|channel|> <|message|>"))
    assert reply.reasoning == "Need weather." and reply.content == ""
    assert [(c.name, json.loads(c.arguments)) for c in reply.calls] == [("get_weather", {"city": "Paris"})]
    final = tc.parse_reply("<|channel|>final<|message|>It is sunny.", tc.family_of("<|channel|> <|message|>"))
    assert final == tc.Reply("It is sunny.", None, ())


def test_text_that_is_not_a_call_stays_content() -> None:
    llama3 = tc.family_of('<|start_header_id|> "parameters"')
    assert tc.parse_reply('{"city": "Paris"} is JSON', llama3).calls == ()
    hermes = tc.family_of("<tool_call>")
    reply = tc.parse_reply("<tool_call>not json", hermes)
    assert reply.calls == () and reply.content == "<tool_call>not json"


def test_mistral_ids_are_nine_letters_and_digits() -> None:
    mistral = tc.family_of("[TOOL_CALLS]")
    short = tc.template_call_id(mistral, "call_0123456789abcdef")
    assert len(short) == 9 and short.isalnum()
    assert short == tc.template_call_id(mistral, "call_0123456789abcdef")  # the call and its result agree
    assert tc.template_call_id(tc.family_of("<tool_call>"), "call_x") == "call_x"


def test_held_from() -> None:
    markers = ("<tool_call>", "<think>")
    assert tc.held_from("Hello <tool", markers) == len("Hello ")
    assert tc.held_from("Hello <tool_call>{", markers) == len("Hello ")
    assert tc.held_from("Hello", markers) == len("Hello")
    assert tc.held_from("a < b", markers) == len("a < b")


def test_forced_call_grammar_names_unknown_tools() -> None:
    from app.chat.grammar import GrammarError

    hermes = tc.family_of("<tool_call>")
    grammar = tc.forced_call_grammar(hermes, TOOLS, "get_weather")
    assert grammar.count("root ::=") == 1 and "get_weather" in grammar
    xml = tc.family_of("<tool_call><function=x><parameter=y>")
    assert '"<parameter=city>\\n"' in tc.forced_call_grammar(xml, TOOLS)
    with pytest.raises(GrammarError, match="no tool named 'nope'"):
        tc.forced_call_grammar(hermes, TOOLS, "nope")
    with pytest.raises(GrammarError, match="parameters of tool 'bad'"):
        tc.forced_call_grammar(hermes, [tc.Tool("bad", "", {"type": "frobnicate"})])
