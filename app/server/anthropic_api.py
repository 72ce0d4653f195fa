"""The Anthropic Messages API: POST /v1/messages, whole and streamed (message_start, content_block_start,
content_block_delta…, content_block_stop, message_delta, message_stop)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.chat import protocol as p
from app.chat.protocol import ToolCall
from app.chat.tool_calls import Family, parse_reply
from app.server import remote_images, sse
from app.server.endpoint import begin, guarded, new_id, read_body, state_of
from app.server.errors import ApiError
from app.server.generation import Event, collect, stream_response
from app.server.replies import ReplyStream
from app.server.schemas import GenerationRequest, parse_json, parse_messages

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error"}


def error_body(error: ApiError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _TYPES.get(error.status, "api_error"), "message": error.message}}


def error_response(error: ApiError) -> Response:
    headers = {"Retry-After": str(round(error.retry_after))} if error.retry_after else None
    return JSONResponse(error_body(error), status_code=error.status, headers=headers)


def error_frame(error: ApiError) -> bytes:
    return sse.event(error_body(error), "error")


def usage(done: p.Done) -> dict[str, int]:
    """Anthropic counts cached prompt tokens apart: input_tokens are those evaluated for this request."""
    s = done.stats
    cached = max(0, s.prompt_tokens - s.prompt_evaluated)
    return {"input_tokens": s.prompt_tokens - cached, "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": 0, "output_tokens": s.generated_tokens}


def stop_reason(done: p.Done, parsed: GenerationRequest, calls: tuple[ToolCall, ...] = ()) -> tuple[str, str | None]:
    """(stop_reason, stop_sequence). The engine reports that a stop string matched, not which one: with a
    single stop sequence it is that one; with several it is left null."""
    if done.finish_reason in ("length", "context_full"):
        return "max_tokens", None
    if calls:
        return "tool_use", None
    stops = parsed.sampling.stop
    if done.finish_reason == "stop_string" and stops:
        return "stop_sequence", stops[0] if len(stops) == 1 else None
    return "end_turn", None


@guarded(error_response)
async def messages(request: Request) -> Response:
    parsed = parse_messages(parse_json(await read_body(request)))
    parsed = await remote_images.resolve_remote(parsed, state_of(request).config.fetch_remote_images)
    generation, first = await begin(request, parsed)
    message_id = new_id("msg_")
    family = generation.plan.family
    if parsed.stream:
        return stream_response(generation, first, lambda events: _frames(message_id, parsed, family, events),
                               error_frame)
    done = await collect(request, generation, first)
    if done is None:
        return Response(status_code=499)
    reply = parse_reply(done.text, family)
    reason, sequence = stop_reason(done, parsed, reply.calls)
    content: list[dict[str, Any]] = []
    if parsed.thinking and reply.reasoning:
        content.append({"type": "thinking", "thinking": reply.reasoning, "signature": ""})
    if reply.content or not reply.calls:
        content.append({"type": "text", "text": reply.content})
    content += [_tool_use(c) for c in reply.calls]
    return JSONResponse({
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": parsed.model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": usage(done),
    })


def _input(call: ToolCall) -> dict[str, Any]:
    try:
        value = json.loads(call.arguments)
    except ValueError:
        return {"arguments": call.arguments}  # not JSON: kept, under a name, rather than lost
    return value if isinstance(value, dict) else {"arguments": value}


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": _anthropic_id(call.id), "name": call.name, "input": _input(call)}


def _anthropic_id(call_id: str) -> str:
    return call_id if call_id.startswith("toolu_") else f"toolu_{call_id.removeprefix('call_')}"


class _Blocks:
    """Content blocks of a streamed message, opened as their first text comes (thinking before text)."""

    def __init__(self) -> None:
        self.index = -1
        self.kind = ""

    def open(self, kind: str) -> list[bytes]:
        frames = self.close()
        self.index += 1
        self.kind = kind
        block: dict[str, str] = {"type": kind, "text": ""}
        if kind == "thinking":
            block = {"type": "thinking", "thinking": "", "signature": ""}
        frames.append(sse.event({"type": "content_block_start", "index": self.index, "content_block": block},
                                "content_block_start"))
        return frames

    def close(self) -> list[bytes]:
        if not self.kind:
            return []
        frames = []
        if self.kind == "thinking":  # no signature can be made for a local model's reasoning: an empty one
            frames.append(self.delta({"type": "signature_delta", "signature": ""}))
        frames.append(sse.event({"type": "content_block_stop", "index": self.index}, "content_block_stop"))
        self.kind = ""
        return frames

    def delta(self, delta: dict[str, Any]) -> bytes:
        return sse.event({"type": "content_block_delta", "index": self.index, "delta": delta}, "content_block_delta")

    def text(self, kind: str, text: str) -> list[bytes]:
        frames = self.open(kind) if self.kind != kind else []
        key = "thinking" if kind == "thinking" else "text"
        frames.append(self.delta({"type": f"{key}_delta", key: text}))
        return frames


async def _frames(message_id: str, parsed: GenerationRequest, family: Family | None,
                  events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    # The prompt's length is known only at the end: message_start says 0, message_delta the real count.
    yield sse.event({"type": "message_start", "message": {
        "id": message_id, "type": "message", "role": "assistant", "model": parsed.model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0},
    }}, "message_start")
    blocks = _Blocks()
    if not parsed.thinking:  # a text block at once, as before any text is known
        for frame in blocks.open("text"):
            yield frame
    stream = ReplyStream(family)

    async for event in events:
        if isinstance(event, p.Token):
            thought, text = stream.feed(event.text)
            for kind, piece in (("thinking", thought if parsed.thinking else ""), ("text", text)):
                if piece:
                    for frame in blocks.text(kind, piece):
                        yield frame
            continue
        reply, thought, rest = stream.finish()
        for kind, piece in (("thinking", thought if parsed.thinking else ""), ("text", rest)):
            if piece:
                for frame in blocks.text(kind, piece):
                    yield frame
        if blocks.index < 0 or (blocks.kind == "thinking" and not reply.calls):
            for frame in blocks.open("text"):  # a message has a text block unless it only calls tools
                yield frame
        for frame in blocks.close():
            yield frame
        for call in reply.calls:
            blocks.index += 1
            i = blocks.index
            block = {**_tool_use(call), "input": {}}
            yield sse.event({"type": "content_block_start", "index": i, "content_block": block},
                            "content_block_start")
            yield sse.event({"type": "content_block_delta", "index": i, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(_input(call), ensure_ascii=False)}},
                "content_block_delta")
            yield sse.event({"type": "content_block_stop", "index": i}, "content_block_stop")
        reason, sequence = stop_reason(event, parsed, reply.calls)
        yield sse.event({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence},
                         "usage": usage(event)}, "message_delta")
        yield sse.event({"type": "message_stop"}, "message_stop")
