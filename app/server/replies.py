"""What a chat request asks of the engine beyond sampling (tools for the template, the grammar that forces
a call, control tokens as text), and the reply taken apart again: content, reasoning and tool calls, whole
or as a stream that holds text back once a call or a think block may have begun."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from app.chat import grammar, templates
from app.chat import tool_calls as tc
from app.chat.protocol import Sampling
from app.server.errors import bad_request
from app.server.schemas import GenerationRequest


@dataclass(frozen=True, slots=True)
class Plan:
    sampling: Sampling
    tools_json: str | None  # for the template; None when no tools are offered
    family: tc.Family | None  # the call syntax to parse; None: no tools (reasoning is still split off)


def plan(request: GenerationRequest, template: str, model_template: str | None) -> Plan:
    """`template` is the engine's template choice for this request, `model_template` the GGUF's own."""
    if request.prompt is not None:
        return Plan(request.sampling, None, None)
    family = tc.family_of(templates.template_source(template, model_template))
    # gpt-oss writes every reply in channels (analysis, final) marked by control tokens: always read them.
    channels = family.name == "harmony"
    if not request.tools:
        return Plan(replace(request.sampling, special_text=True), None, family) if channels else \
            Plan(request.sampling, None, None)
    tools_json = json.dumps([t.as_openai() for t in request.tools], ensure_ascii=False)
    if request.tool_choice == "none":  # the template still shows them (same prompt, same cache); no call is read
        return Plan(replace(request.sampling, special_text=channels), tools_json, family if channels else None)
    sampling = replace(request.sampling, special_text=family.special_text)
    if request.tool_choice in ("required", "function"):
        try:
            forced = tc.forced_call_grammar(family, request.tools, request.tool_name)
        except grammar.GrammarError as exc:
            raise bad_request(str(exc), "tools") from None
        sampling = replace(sampling, grammar=forced)
    return Plan(sampling, tools_json, family)


class ReplyStream:
    """Text as it streams. `feed` returns the (reasoning, content) that may be shown now: a reply that
    opens with <think> streams that block as reasoning; content is held back from where a tool call may
    begin. `finish` gives the parsed reply and what of its reasoning and content was not shown yet."""

    def __init__(self, family: tc.Family | None) -> None:
        self.family = family
        self._markers = (*(family.starts if family else ()), tc.THINK_OPEN, tc.THINK_CLOSE)
        self._text = ""
        self._mode = "start"  # start -> think -> content, or start -> content
        self._think_from = 0
        self._content_from = 0
        self._reasoning = ""  # reasoning shown
        self._shown = ""  # content shown
        self._holding = False

    def feed(self, piece: str) -> tuple[str, str]:
        self._text += piece
        reasoning = ""
        if self._mode == "start":
            head = self._text.lstrip()
            if not head or (tc.THINK_OPEN.startswith(head) and head != tc.THINK_OPEN):
                return "", ""  # may still become <think>
            if head.startswith(tc.THINK_OPEN):
                self._mode = "think"
                self._think_from = len(self._text) - len(head) + len(tc.THINK_OPEN)
            else:
                self._mode = "content"
        if self._mode == "think":
            body = self._text[self._think_from:]
            close = body.find(tc.THINK_CLOSE)
            # Blanks at either end wait: the whole reply's reasoning is stripped, the stream's must match it.
            visible = (body[:close] if close >= 0 else body[: tc.held_from(body, (tc.THINK_CLOSE,))]).strip()
            reasoning = visible[len(self._reasoning):]
            self._reasoning += reasoning
            if close < 0:
                return reasoning, ""
            self._mode = "after-think"
            self._content_from = self._think_from + close + len(tc.THINK_CLOSE)
        tail = self._text[self._content_from:]
        return reasoning, self._content(tail.lstrip() if self._mode == "after-think" else tail)

    def _content(self, text: str) -> str:
        if self._holding:
            return ""
        tail = text[len(self._shown):]
        if any(m in tail for m in self._markers):
            self._holding = True
        out = tail[: tc.held_from(tail, self._markers)]
        self._shown += out
        return out

    def finish(self) -> tuple[tc.Reply, str, str]:
        """(the reply, reasoning not shown yet, content not shown yet)."""
        reply = tc.parse_reply(self._text, self.family)
        return reply, _rest(reply.reasoning or "", self._reasoning.strip()), _rest(reply.content, self._shown)


def _rest(whole: str, shown: str) -> str:
    if whole.startswith(shown):
        return whole[len(shown):]
    return "" if shown.startswith(whole) else whole


__all__ = ["Plan", "ReplyStream", "plan"]
