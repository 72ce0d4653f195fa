"""From a Generate request to prompt tokens: template, BOS, and what to do when the context is full."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from app.chat import media, templates, tool_calls
from app.chat.protocol import ChatMessage, Generate, ModelInfo
from app.core.errors import ContextFullError

Tokenize = Callable[[str, bool], list[int]]  # (text, add_special) -> tokens


@dataclass(frozen=True, slots=True)
class Prompt:
    tokens: list[int]
    dropped_messages: int
    stop: tuple[str, ...]


def reserve_for_reply(n_ctx: int, max_tokens: int) -> int:
    """Room left for the answer when deciding whether a prompt fits."""
    return max(1, min(max_tokens, n_ctx // 4))


def _render(request: Generate, messages: list[ChatMessage], info: ModelInfo, tokenize: Tokenize) -> list[int]:
    tools = json.loads(request.tools) if request.tools else None
    # A conversation that ends in a started assistant reply (an API's prefill) continues that reply: the
    # turns before it are rendered up to the assistant's turn, and its text follows.
    last = messages[-1] if messages else None
    prefill = last.content if last is not None and last.role == "assistant" and last.content \
        and not last.tool_calls else ""
    if prefill:
        messages = messages[:-1]
    messages = [media.placed(m) for m in messages]  # one marker per image or clip, none typed by a user
    source = templates.template_source(request.template, info.chat_template)
    family = tool_calls.family_of(source)
    if family.short_ids:
        messages = [_short_ids(m, family) for m in messages]
    if tools and not tool_calls.teaches_tools(source):
        # A template that ignores `tools`: the model learns them (and the call syntax) from a system
        # message in front, merged with the conversation's own system message.
        described = [tool_calls.Tool(t["function"]["name"], t["function"].get("description", ""),
                                     t["function"].get("parameters") or {}) for t in tools]
        intro = tool_calls.tools_system_prompt(family, described)
        if messages and messages[0].role == "system":
            messages = [replace(messages[0], content=f"{messages[0].content}\n\n{intro}"), *messages[1:]]
        else:
            messages = [ChatMessage("system", intro), *messages]
        tools = None
    rendered = templates.build_prompt(
        request.template, messages, model_template=info.chat_template,
        bos_text=info.bos_text, eos_text=info.eos_text, add_bos=info.add_bos, tools=tools,
    )
    return tokenize(rendered.text + prefill, rendered.add_special)


def _short_ids(message: ChatMessage, family: tool_calls.Family) -> ChatMessage:
    if not message.tool_calls and message.tool_call_id is None:
        return message
    calls = tuple(replace(c, id=tool_calls.template_call_id(family, c.id)) for c in message.tool_calls)
    call_id = message.tool_call_id
    return replace(message, tool_calls=calls,
                   tool_call_id=None if call_id is None else tool_calls.template_call_id(family, call_id))


def _droppable(messages: list[ChatMessage]) -> int | None:
    """Index of the oldest message that may go: never a system message, never the last message."""
    for i, message in enumerate(messages[:-1]):
        if message.role != "system":
            return i
    return None


def build(request: Generate, info: ModelInfo, tokenize: Tokenize) -> Prompt:
    limit = info.n_ctx - reserve_for_reply(info.n_ctx, request.sampling.max_tokens)
    if request.prompt is not None:
        tokens = tokenize(request.prompt, info.add_bos)
        if len(tokens) > limit and request.context_policy == "drop_oldest":
            head = tokens[:1] if info.add_bos else []
            tokens = head + tokens[len(tokens) - (limit - len(head)) :]
        return _checked(Prompt(tokens, 0, request.sampling.stop), info)

    messages = list(request.messages)
    if not messages:
        raise ContextFullError("There is nothing to answer: the conversation is empty")
    stops = request.sampling.stop + templates.stop_strings(request.template, info.chat_template)
    tokens = _render(request, messages, info, tokenize)
    dropped = 0
    while len(tokens) > limit and request.context_policy == "drop_oldest":
        index = _droppable(messages)
        if index is None:
            break
        del messages[index]
        # Keep turns whole: a reply without its question confuses most models.
        if index < len(messages) - 1 and messages[index].role == "assistant":
            del messages[index]
            dropped += 1
        dropped += 1
        tokens = _render(request, messages, info, tokenize)
    return _checked(Prompt(tokens, dropped, tuple(dict.fromkeys(stops))), info)


def _checked(prompt: Prompt, info: ModelInfo) -> Prompt:
    if len(prompt.tokens) >= info.n_ctx:
        raise ContextFullError(
            f"The conversation ({len(prompt.tokens)} tokens) no longer fits the context ({info.n_ctx})",
            hint="start a new conversation, load with a longer context, or let old turns be dropped",
        )
    return prompt
