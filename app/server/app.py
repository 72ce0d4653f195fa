"""The ASGI application: routes, CORS (off unless origins are given), and the idle-model reaper."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.server import anthropic_api, auth, embeddings, openai_api
from app.server.endpoint import ServerState, state_of
from app.server.errors import ApiError


async def health(request: Request) -> Response:
    """Always answers; the loaded models only to a caller with the key (or when there is none)."""
    state = state_of(request)
    body: dict[str, object] = {"status": "ok"}
    key = state.config.api_key
    if key is None or auth.key_matches(auth.offered_key(request.headers), key):
        scheduler = state.scheduler
        used = scheduler.used()
        memory: dict[str, object] = {"allowed_ram_bytes": scheduler.budget.ram, "used_ram_bytes": used.ram}
        body["memory"] = memory
        if scheduler.budget.rpc:  # the RPC worker devices of the pool, in llama.cpp's order
            memory["rpc_devices"] = [
                {"device": name, "free_bytes": free, "used_bytes": used.rpc[i] if i < len(used.rpc) else 0}
                for i, (name, free) in enumerate(zip(scheduler.device_names, scheduler.budget.rpc, strict=False))
            ]
        body["loaded"] = [
            {"id": m.id, "ram_bytes": m.ram, "vram_bytes": m.vram, "rpc_bytes": list(m.rpc), "busy": m.busy,
             "idle_seconds": round(m.idle_seconds, 1)}
            for m in state.scheduler.loaded()
        ]
    return JSONResponse(body)


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods, in the OpenAI error format (what most clients parse)."""
    assert isinstance(exc, HTTPException)
    return openai_api.error_response(ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}"))


def build_app(state: ServerState) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(state.scheduler.run_reaper)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
                await state.scheduler.close()

    routes = [
        Route("/health", health),
        Route("/v1/models", openai_api.list_models),
        Route("/v1/models/{model_id:path}", openai_api.get_model),
        Route("/v1/chat/completions", openai_api.chat_completions, methods=["POST"]),
        Route("/v1/completions", openai_api.completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings.embeddings, methods=["POST"]),
        Route("/v1/messages", anthropic_api.messages, methods=["POST"]),
    ]
    middleware = []
    if state.config.cors_origins:
        middleware.append(Middleware(
            CORSMiddleware, allow_origins=list(state.config.cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-api-key", "anthropic-version"],
        ))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error})
    app.state.server = state
    return app
