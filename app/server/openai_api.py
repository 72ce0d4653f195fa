"""The OpenAI API: /v1/models, /v1/chat/completions and /v1/completions, streamed (SSE) and whole."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.chat import protocol as p
from app.chat.protocol import ToolCall
from app.chat.tool_calls import Family, parse_reply
from app.server import media_parts, remote_images, sse
from app.server.endpoint import begin, guarded, new_id, read_body, state_of
from app.server.errors import ApiError
from app.server.generation import Event, collect, stream_response
from app.server.replies import ReplyStream
from app.server.schemas import GenerationRequest, parse_chat, parse_completion, parse_json

FINISH = {"eog": "stop", "stop_string": "stop", "stopped": "stop", "length": "length", "context_full": "length"}
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "invalid_request_error", 413: "invalid_request_error", 503: "server_error"}
_CODES = {401: "invalid_api_key", 404: "model_not_found", 413: "request_too_large", 503: "unavailable"}


def error_body(error: ApiError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": _TYPES.get(error.status, "server_error"),
                      "param": error.param, "code": _CODES.get(error.status)}}


def error_response(error: ApiError) -> Response:
    headers = {"Retry-After": str(round(error.retry_after))} if error.retry_after else None
    return JSONResponse(error_body(error), status_code=error.status, headers=headers)


def error_frame(error: ApiError) -> bytes:
    return sse.event(error_body(error))


def usage(done: p.Done) -> dict[str, Any]:
    s = done.stats
    return {
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.generated_tokens,
        "total_tokens": s.prompt_tokens + s.generated_tokens,
        "prompt_tokens_details": {"cached_tokens": max(0, s.prompt_tokens - s.prompt_evaluated)},
    }


# ---------------------------------------------------------------- models


@guarded(error_response)
async def list_models(request: Request) -> Response:
    models = await anyio.to_thread.run_sync(state_of(request).catalog.refresh)
    data = await anyio.to_thread.run_sync(lambda: [_model(m.id, m.created, m.path) for m in models])
    return JSONResponse({"object": "list", "data": data})


@guarded(error_response)
async def get_model(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    model = await anyio.to_thread.run_sync(state_of(request).catalog.find, model_id)
    if model is None:
        raise ApiError(404, f"The model '{model_id}' is not in the library", "model")
    return JSONResponse(await anyio.to_thread.run_sync(_model, model.id, model.created, model.path))


def _model(model_id: str, created: int, path: Path) -> dict[str, Any]:
    # "capabilities": what it takes besides text ("vision", "audio"), from the projector beside it
    return {"id": model_id, "object": "model", "created": created, "owned_by": "library",
            "capabilities": media_parts.capabilities(path)}


# ---------------------------------------------------------------- chat


@guarded(error_response)
async def chat_completions(request: Request) -> Response:
    parsed = parse_chat(parse_json(await read_body(request)))
    parsed = await remote_images.resolve_remote(parsed, state_of(request).config.fetch_remote_images)
    generation, first = await begin(request, parsed)
    head = {"id": new_id("chatcmpl-"), "created": int(time.time()), "model": parsed.model}
    if parsed.stream:
        family = generation.plan.family
        return stream_response(generation, first, lambda events: _chat_frames(head, parsed, family, events),
                               error_frame)
    family = generation.plan.family
    done = await collect(request, generation, first)
    if done is None:
        return Response(status_code=499)  # the client is gone; nobody reads this
    reply = parse_reply(done.text, family)
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None if reply.calls else reply.content}
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    if reply.calls:
        message["tool_calls"] = [_call(c) for c in reply.calls]
    return JSONResponse({
        **head,
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": _finish(done, reply.calls)}],
        "usage": usage(done),
    })


def _call(call: ToolCall, index: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": call.id, "type": "function",
                           "function": {"name": call.name, "arguments": call.arguments}}
    return out if index is None else {"index": index, **out}


def _finish(done: p.Done, calls: tuple[ToolCall, ...]) -> str:
    return "tool_calls" if calls and done.finish_reason in ("eog", "stop_string") else FINISH[done.finish_reason]


async def _chat_frames(head: dict[str, Any], parsed: GenerationRequest, family: Family | None,
                       events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    base = {**head, "object": "chat.completion.chunk"}
    if parsed.include_usage:
        base["usage"] = None  # every chunk but the last carries a null usage, as OpenAI's do

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse.event({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                               "finish_reason": finish}]})

    stream = ReplyStream(family)
    yield chunk({"role": "assistant", "content": ""})
    async for event in events:
        if isinstance(event, p.Token):
            thought, text = stream.feed(event.text)
            if thought:
                yield chunk({"reasoning_content": thought})
            if text:
                yield chunk({"content": text})
            continue
        reply, thought, rest = stream.finish()
        if thought:
            yield chunk({"reasoning_content": thought})
        if rest:
            yield chunk({"content": rest})
        for i, call in enumerate(reply.calls):  # each call whole, in one delta
            yield chunk({"tool_calls": [_call(call, i)]})
        yield chunk({}, _finish(event, reply.calls))
        if parsed.include_usage:
            yield sse.event({**base, "choices": [], "usage": usage(event)})
    yield sse.DONE


# ---------------------------------------------------------------- completions


@guarded(error_response)
async def completions(request: Request) -> Response:
    parsed = parse_completion(parse_json(await read_body(request)))
    generation, first = await begin(request, parsed)
    head = {"id": new_id("cmpl-"), "object": "text_completion", "created": int(time.time()), "model": parsed.model}
    if parsed.stream:
        return stream_response(generation, first, lambda events: _completion_frames(head, parsed, events),
                               error_frame)
    done = await collect(request, generation, first)
    if done is None:
        return Response(status_code=499)
    return JSONResponse({
        **head,
        "choices": [{"index": 0, "text": done.text, "logprobs": None,
                     "finish_reason": FINISH[done.finish_reason]}],
        "usage": usage(done),
    })


async def _completion_frames(head: dict[str, Any], parsed: GenerationRequest,
                             events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    base = {**head, "usage": None} if parsed.include_usage else head

    def chunk(text: str, finish: str | None = None) -> bytes:
        return sse.event({**base, "choices": [{"index": 0, "text": text, "logprobs": None,
                                               "finish_reason": finish}]})

    async for event in events:
        if isinstance(event, p.Token):
            if event.text:
                yield chunk(event.text)
            continue
        yield chunk("", FINISH[event.finish_reason])
        if parsed.include_usage:
            yield sse.event({**base, "choices": [], "usage": usage(event)})
    yield sse.DONE
