"""Template rendering against hand-written reference strings (what transformers' apply_chat_template gives)."""

from __future__ import annotations

import re

import pytest

from app.chat.protocol import ChatMessage as M
from app.chat.templates import (
    BUILTIN_TEMPLATES,
    build_prompt,
    render,
    stop_strings,
    template_source,
)
from app.core.errors import TemplateError

# A Hub-style ChatML template (Qwen-like default system message), laid out so that the output is right only
# with trim_blocks and lstrip_blocks on, as transformers renders it.
HUB_CHATML = """{% for message in messages %}
    {% if loop.first and messages[0]['role'] != 'system' %}
<|im_start|>system
You are a helpful assistant.<|im_end|>
    {% endif %}
<|im_start|>{{ message['role'] }}
{{ message['content'] }}<|im_end|>
{% endfor %}
{% if add_generation_prompt %}
<|im_start|>assistant
{% endif %}"""

# Llama-3-like: BOS from the template, system hoisted, raise_exception on bad roles, loop controls.
HUB_LLAMA3 = """{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system = messages[0]['content'] | trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system = "" %}
{%- endif %}
{%- if system %}
{{- '<|start_header_id|>system<|end_header_id|>\n\n' + system + '<|eot_id|>' }}
{%- endif %}
{%- for message in messages %}
    {%- if message['role'] not in ['user', 'assistant'] %}
        {{- raise_exception('Only user and assistant roles are supported') }}
    {%- endif %}
    {%- if message['content'] == '' %}{% continue %}{% endif %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}"""

CONVERSATION = [M("user", "Hi"), M("assistant", "Hello! How can I help?"), M("user", "What is 2+2?")]


def test_hub_chatml_matches_reference() -> None:
    expected = (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello! How can I help?<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert render(HUB_CHATML, CONVERSATION) == expected


def test_hub_chatml_without_generation_prompt() -> None:
    text = render(HUB_CHATML, [M("system", "Be terse."), M("user", "Hi")], add_generation_prompt=False)
    assert text == "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"


def test_hub_llama3_matches_reference() -> None:
    messages = [M("system", "  Be terse.  "), M("user", "Hi "), M("assistant", ""), *CONVERSATION[1:]]
    expected = (
        "<|begin_of_text|>"
        "<|start_header_id|>system<|end_header_id|>\n\nBe terse.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert render(HUB_LLAMA3, messages, bos_token="<|begin_of_text|>") == expected


def test_raise_exception_becomes_template_error() -> None:
    with pytest.raises(TemplateError, match="Only user and assistant"):
        render(HUB_LLAMA3, [M("tool", "x")], bos_token="<s>")


def test_tojson_is_not_html_escaped_and_keeps_unicode() -> None:
    text = render("{{ messages | tojson }}|{{ {'b': 1, 'a': [1, 2]} | tojson(indent=1, sort_keys=True) }}",
                  [M("user", "<b>&'é")])
    head, tail = text.split("|")
    assert head == '[{"role": "user", "content": "<b>&\'é"}]'
    assert tail == '{\n "a": [\n  1,\n  2\n ],\n "b": 1\n}'


def test_strftime_now_and_generation_block() -> None:
    text = render("{{ strftime_now('%Y') }}{% generation %}!{% endgeneration %}", [])
    assert re.fullmatch(r"\d{4}!", text)


def test_syntax_error_is_template_error() -> None:
    with pytest.raises(TemplateError, match="not valid Jinja"):
        render("{% for %}", [])


def test_missing_template_offers_a_choice() -> None:
    with pytest.raises(TemplateError) as info:
        template_source("auto", None)
    assert "raw" in str(info.value) and "chatml" in str(info.value)
    assert template_source("raw", None) is None
    with pytest.raises(TemplateError):
        template_source("nonsense", "x")


@pytest.mark.parametrize("name", sorted(BUILTIN_TEMPLATES))
def test_builtins_render_every_role(name: str) -> None:
    text = render(BUILTIN_TEMPLATES[name], [M("system", "S"), *CONVERSATION], bos_token="<s>", eos_token="</s>")
    for part in ("S", "Hi", "Hello! How can I help?", "What is 2+2?"):
        assert part in text


def test_builtin_gemma_reference() -> None:
    text = render(BUILTIN_TEMPLATES["gemma"], [M("system", "S"), *CONVERSATION], bos_token="<bos>")
    assert text == (
        "<bos><start_of_turn>user\nS\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello! How can I help?<end_of_turn>\n"
        "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_bos_not_doubled_when_template_writes_it() -> None:
    with_bos = build_prompt("llama3", CONVERSATION, model_template=None, bos_text="<s>", eos_text="</s>",
                            add_bos=True)
    assert with_bos.text.startswith("<s>") and with_bos.add_special is False
    without = build_prompt("chatml", CONVERSATION, model_template=None, bos_text="<s>", eos_text="</s>",
                           add_bos=True)
    assert not without.text.startswith("<s>") and without.add_special is True
    no_bos_vocab = build_prompt("chatml", CONVERSATION, model_template=None, bos_text="<s>", eos_text="",
                                add_bos=False)
    assert no_bos_vocab.add_special is False


def test_raw_mode_concatenates() -> None:
    prompt = build_prompt("raw", [M("user", "Once upon"), M("assistant", " a time")], model_template=None,
                          bos_text="<bos>", eos_text="", add_bos=True)
    assert prompt.text == "Once upon a time" and prompt.add_special is True


def test_stop_strings_follow_the_template() -> None:
    assert stop_strings("chatml", None) == ("<|im_end|>",)
    assert stop_strings("auto", HUB_LLAMA3) == ("<|eot_id|>",)
    assert stop_strings("raw", None) == ()
