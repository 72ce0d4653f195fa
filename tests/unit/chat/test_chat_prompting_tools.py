"""Tools on their way into the prompt: the template gets them as transformers passes them; a template that
ignores them gets them in a system message, in the call syntax it is parsed with."""

from __future__ import annotations

import json

from app.chat.prompting import build
from app.chat.protocol import ChatMessage as M
from app.chat.protocol import Generate, ModelInfo, ToolCall

TOOLS = json.dumps([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                                      "parameters": {"type": "object"}}}])
SEEN = "{% for m in messages %}[{{ m.role }}|{{ m.content }}|{{ m.tool_call_id }}]{% endfor %}"


def info(template: str) -> ModelInfo:
    return ModelInfo("m", "d", 4096, 4096, 2, 100, 0, template, "<s>", "</s>", False, 0.0)


def rendered(template: str, messages: tuple[M, ...], tools: str | None = TOOLS) -> str:
    texts: list[str] = []

    def tokenize(text: str, _add: bool) -> list[int]:
        texts.append(text)
        return [1]

    build(Generate(1, messages, tools=tools), info(template), tokenize)
    return texts[-1]


def test_a_template_that_renders_tools_gets_them() -> None:
    template = "{% for t in tools %}<{{ t.function.name }}>{% endfor %}{{ messages[0].content }}"
    assert rendered(template, (M("user", "hi"),)) == "<get_weather>hi"
    assert rendered("{{ tools is defined }}", (M("user", "hi"),), tools=None) == "False"


def test_a_template_that_ignores_tools_gets_a_system_message_in_its_syntax() -> None:
    text = rendered(SEEN, (M("system", "Be brief."), M("user", "hi")))
    assert text.startswith("[system|Be brief.\n\nYou may call") and '"name": "get_weather"' in text
    assert "<tool_call>" in text and text.endswith("[user|hi|]")


def test_mistral_templates_see_nine_character_ids_for_calls_and_results() -> None:
    template = "[TOOL_CALLS]" + SEEN + "{% for m in messages %}{% for c in m.tool_calls or [] %}({{ c.id }})" \
               "{% endfor %}{% endfor %}"
    messages = (M("user", "hi"), M("assistant", "", tool_calls=(ToolCall("call_abcdef0123456789", "get_weather",
                                                                          "{}"),)),
                M("tool", "18C", tool_call_id="call_abcdef0123456789"))
    text = rendered(template, messages)
    call_id = text[text.rindex("(") + 1:-1]
    assert len(call_id) == 9 and call_id.isalnum() and f"[tool|18C|{call_id}]" in text
