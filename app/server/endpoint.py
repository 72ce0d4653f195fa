"""What every API endpoint does before it answers: find the server's state, check the key, read the body
within its limit, lease the model's engine and start the generation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from app.server import auth, replies
from app.server.catalog import Catalog
from app.server.config import ServerConfig
from app.server.errors import ApiError
from app.server.generation import Event, Generation, start
from app.server.model_kind import is_embedding_model
from app.server.scheduler import Lease, Scheduler
from app.server.schemas import GenerationRequest

Handler = Callable[[Request], Awaitable[Response]]
DRAIN_FACTOR = 16  # an oversized body is read (and dropped) up to this many limits, so the client sees the 413


@dataclass(frozen=True, slots=True)
class ServerState:
    config: ServerConfig
    catalog: Catalog
    scheduler: Scheduler


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


def guarded(render: Callable[[ApiError], Response]) -> Callable[[Handler], Handler]:
    """Runs a handler after the key check; an ApiError becomes a response in the API's own format."""

    def wrap(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                auth.authorize(request.headers, state_of(request).config.api_key)
                return await handler(request)
            except ApiError as exc:
                return render(exc)

        return endpoint

    return wrap


async def read_body(request: Request) -> bytes:
    """The body, or a 413 ApiError once it passes the limit (Content-Length is trusted only to refuse)."""
    limit = state_of(request).config.max_body_bytes
    declared = request.headers.get("content-length", "")
    over = declared.isdigit() and int(declared) > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            over = True
        if over:
            chunks.clear()
            if size > DRAIN_FACTOR * limit:
                break  # not worth reading on: the connection closes instead
            continue
        chunks.append(chunk)
    if over:
        raise ApiError(413, f"The request body is larger than the server's limit of {limit} bytes")
    return b"".join(chunks)


def template_for(lease: Lease, request: GenerationRequest, config: ServerConfig) -> str:
    if request.prompt is not None or lease.info.chat_template:
        return "auto"
    if config.fallback_template:
        return config.fallback_template
    raise ApiError(400, f"The model '{lease.model.id}' has no chat template in its GGUF, so it cannot chat: use "
                        "/v1/completions with a prompt, or start the server with --chat-template NAME", "model")


async def begin(http: Request, request: GenerationRequest) -> tuple[Generation, Event]:
    """Leases the model's engine (loading it if needed) and starts the generation."""
    state = state_of(http)
    if await anyio.to_thread.run_sync(_embedding_only, state, request.model):
        raise ApiError(400, f"The model '{request.model}' is an embedding model: it cannot chat or complete "
                            "text; use /v1/embeddings", "model")
    lease = await state.scheduler.acquire(request.model)
    try:
        template = template_for(lease, request, state.config)
        plan = replies.plan(request, template, lease.info.chat_template)
    except BaseException:
        lease.release()
        raise
    return await start(lease, request, template, plan)


def _embedding_only(state: ServerState, model_id: str) -> bool:
    model = state.catalog.find(model_id)
    return model is not None and is_embedding_model(model.path)


def new_id(prefix: str) -> str:
    import uuid

    return f"{prefix}{uuid.uuid4().hex[:24]}"
