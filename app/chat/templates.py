"""Chat templates: the GGUF's Jinja `tokenizer.chat_template`, rendered in a sandbox, or one of ours.

Rendering follows what Hugging Face's `apply_chat_template` does (trim_blocks, lstrip_blocks, loop controls,
`raise_exception`, `strftime_now`, a `tojson` that does not HTML-escape), inside Jinja2's
ImmutableSandboxedEnvironment. Any access the sandbox refuses is an error, not a silent empty string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

from app.chat import template_budget as budget
from app.chat import template_owned
from app.chat.protocol import ChatMessage
from app.core.errors import TemplateError

AUTO = "auto"
RAW = "raw"
MAX_OUTPUT_CHARS = budget.MAX_OUTPUT_CHARS

# Our own renderings of well-known chat formats, for models that carry no template.
BUILTIN_TEMPLATES: dict[str, str] = {
    "chatml": (
        "{% for message in messages %}"
        "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}"
        "{% for message in messages %}"
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim"
        " + '<|eot_id|>' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    "gemma": (
        "{{ bos_token }}"
        "{% set ns = namespace(system='') %}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
        "{% else %}"
        "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
        "{{ '<start_of_turn>' + role + '\n' + ns.system + message['content'] | trim + '<end_of_turn>\n' }}"
        "{% set ns.system = '' %}"
        "{% endif %}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
    ),
    "mistral": (
        "{{ bos_token }}"
        "{% set ns = namespace(system='') %}"
        "{% for message in messages %}"
        "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
        "{% elif message['role'] == 'user' %}"
        "{{ '[INST] ' + ns.system + message['content'] | trim + ' [/INST]' }}{% set ns.system = '' %}"
        "{% else %}{{ message['content'] | trim + eos_token }}"
        "{% endif %}"
        "{% endfor %}"
    ),
}


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    add_special: bool  # whether the tokenizer should add BOS (False when the template wrote it)


class _GenerationTag(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}` (used by training-aware Hub templates): renders its body."""

    tags = {"generation"}  # noqa: RUF012 - Jinja's declared class attribute

    def parse(self, parser: Any) -> list[jinja2.nodes.Node]:
        next(parser.stream)
        body: list[jinja2.nodes.Node] = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return body


class _BudgetCodeGenerator(CodeGenerator):
    """Compiles a clock check into every loop body and macro, and a size check into `~`. List and dict
    literals become the template's own containers (app.chat.template_owned), which it may change."""

    def enter_frame(self, frame: Frame) -> None:
        super().enter_frame(frame)
        self.writeline("environment.checkpoint()")

    def visit_List(self, node: jinja2.nodes.List, frame: Frame) -> None:
        self.write("environment.owned(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: jinja2.nodes.Dict, frame: Frame) -> None:
        self.write("environment.owned(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Const(self, node: jinja2.nodes.Const, frame: Frame) -> None:
        if not isinstance(node.value, list | dict):  # the optimizer folds constant literals into Const
            super().visit_Const(node, frame)
            return
        self.write("environment.owned_constant(")
        super().visit_Const(node, frame)
        self.write(")")

    def visit_Concat(self, node: jinja2.nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            super().visit_Concat(node, frame)
            return
        self.write("environment.budget_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _StrictSandbox(ImmutableSandboxedEnvironment):
    """The stock sandbox returns a harmless Undefined for forbidden attributes; we refuse outright. Every
    operation that can grow a value or run long is checked against the render's budget first."""

    code_generator_class = _BudgetCodeGenerator
    # Intercepted operators are also never folded into constants while compiling (`9 ** 999999999`).
    intercepted_binops = frozenset({"*", "+", "**", "%"})

    checkpoint = staticmethod(budget.checkpoint)
    budget_concat = staticmethod(budget.checked_concat)
    owned = staticmethod(template_owned.owned)
    owned_constant = staticmethod(template_owned.owned_constant)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if template_owned.may_change(obj, attr):  # the template's own list or dict: it may change it
            return SandboxedEnvironment.is_safe_attribute(self, obj, attr, value)
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} is not allowed")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget.check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget.checkpoint()
        budget.check_method_call(obj, args, kwargs)
        template_owned.check_growth(obj, args, kwargs)
        if isinstance(obj, Macro | LoopContext):
            with budget.nested_call():
                return super().call(context, obj, *args, **kwargs)
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            budget.check_format(fmt)
            result: str = wrapper(*args, **kwargs)
            return result

        return checked


def _arguments(text: str) -> Any:
    """A call's arguments as templates expect them: the JSON object (most write it with `tojson`)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def message_dict(message: ChatMessage) -> dict[str, Any]:
    """A message as transformers hands it to a template (tool calls, tool results, reasoning)."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _arguments(c.arguments)}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    if message.reasoning is not None:
        out["reasoning_content"] = message.reasoning
    return out


def _raise_exception(message: str) -> NoReturn:
    raise TemplateError(f"The chat template refused the conversation: {message}")


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@lru_cache(maxsize=16)
def _compile(source: str) -> jinja2.Template:
    env = _StrictSandbox(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[jinja2.ext.loopcontrols, _GenerationTag],
        autoescape=False,
    )
    env.filters.update(budget.budget_filters(env.filters))
    env.filters["tojson"] = budget.budget_tojson(_tojson)
    env.globals["range"] = budget.BudgetRange
    env.globals["dict"] = template_owned.template_dict
    env.globals["lipsum"] = budget.lipsum
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"The chat template is not valid Jinja (line {exc.lineno}): {exc.message}") from exc


def is_source(template: str) -> bool:
    """A template choice that is Jinja text itself (a server's --chat-template FILE) rather than a name."""
    return "{{" in template or "{%" in template


def template_source(name: str, model_template: str | None) -> str | None:
    """The Jinja source for a template choice; None means raw completion mode."""
    if name == RAW:
        return None
    if name == AUTO:
        if not model_template:
            raise TemplateError(
                "This model has no chat template",
                hint=f"pick a built-in template ({', '.join(BUILTIN_TEMPLATES)}) or raw completion mode",
            )
        return model_template
    if name in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[name]
    if is_source(name):
        return name
    raise TemplateError(f"Unknown chat template {name!r}", hint=f"use auto, raw or {', '.join(BUILTIN_TEMPLATES)}")


def render(
    source: str,
    messages: Sequence[ChatMessage],
    *,
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
    deadline: float = budget.RENDER_DEADLINE_S,
    **extra: Any,
) -> str:
    """Render within a budget (see app/chat/template_budget.py): over it is a TemplateError naming it."""
    template = _compile(source)
    chunks: list[str] = []
    size = 0
    try:
        with budget.rendering(deadline):
            for chunk in template.generate(
                messages=[message_dict(m) for m in messages],
                bos_token=bos_token,
                eos_token=eos_token,
                add_generation_prompt=add_generation_prompt,
                **extra,
            ):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise budget.over_budget("output size", f"{MAX_OUTPUT_CHARS:,} characters")
                budget.checkpoint()
                chunks.append(chunk)
            budget.check_clock()
    except MemoryError as exc:
        raise TemplateError("The chat template ran out of memory", hint="pick a built-in chat template") from exc
    except TemplateError:
        raise
    except SecurityError as exc:
        raise TemplateError(f"The chat template tried something unsafe and was stopped: {exc}") from exc
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, IndexError, AttributeError,
            OverflowError, RecursionError) as exc:
        raise TemplateError(f"The chat template failed: {type(exc).__name__}: {exc}") from exc
    return "".join(chunks)


def raw_prompt(messages: Iterable[ChatMessage]) -> str:
    """Completion mode: the conversation is one running text the model continues."""
    return "".join(m.content for m in messages)


def build_prompt(
    template: str,
    messages: Sequence[ChatMessage],
    *,
    model_template: str | None,
    bos_text: str,
    eos_text: str,
    add_bos: bool,
    tools: Sequence[dict[str, Any]] | None = None,
) -> RenderedPrompt:
    """Renders `messages` for the model. As llama.cpp does, BOS is added by the tokenizer only when the
    vocabulary wants it and the rendered text does not already start with it. `tools` go to the template
    as transformers passes them (absent when there are none: templates test `tools is defined`)."""
    source = template_source(template, model_template)
    if source is None:
        return RenderedPrompt(raw_prompt(messages), add_special=add_bos)
    extra: dict[str, Any] = {"tools": list(tools)} if tools else {}
    text = render(source, messages, bos_token=bos_text, eos_token=eos_text, **extra)
    starts_with_bos = bool(bos_text) and text.startswith(bos_text)
    return RenderedPrompt(text, add_special=add_bos and not starts_with_bos)


def stop_strings(template: str, model_template: str | None) -> tuple[str, ...]:
    """End-of-turn markers to stop on as text, for templates whose end token a vocabulary may not flag EOG."""
    source = template_source(template, model_template) or ""
    markers = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "</s>")
    return tuple(m for m in markers if m in source)


_FAMILY_FORMATS = (("gemma", "gemma"), ("llama", "llama3"), ("mistral", "mistral"), ("mixtral", "mistral"))


def suggested_builtin(description: str) -> str:
    """The built-in chat format to propose for a model without a template, from its description
    (llama.cpp's "gemma3 270M Q4_K - Medium"); ChatML when the family is not one we know."""
    lowered = description.lower()
    return next((name for key, name in _FAMILY_FORMATS if key in lowered), "chatml")
