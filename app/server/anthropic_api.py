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
from app.server import sse
from app.server.endpoint import begin, guarded, new_id, read_body
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
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.content}]
    if reply.calls and not reply.content:
        content = []
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


async def _frames(message_id: str, parsed: GenerationRequest, family: Family | None,
                  events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    # The prompt's length is known only at the end: message_start says 0, message_delta the real count.
    yield sse.event({"type": "message_start", "message": {
        "id": message_id, "type": "message", "role": "assistant", "model": parsed.model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0},
    }}, "message_start")
    yield sse.event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                    "content_block_start")
    stream = ReplyStream(family)

    def text_delta(text: str) -> bytes:
        return sse.event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
                         "content_block_delta")

    async for event in events:
        if isinstance(event, p.Token):
            _thought, text = stream.feed(event.text)  # reasoning is left out (no thinking blocks)
            if text:
                yield text_delta(text)
            continue
        reply, _thought, rest = stream.finish()
        if rest:
            yield text_delta(rest)
        yield sse.event({"type": "content_block_stop", "index": 0}, "content_block_stop")
        for i, call in enumerate(reply.calls, start=1):
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
