"""POST /v1/embeddings (OpenAI format) for embedding models, decided from the GGUF header.

An embedding model (app.server.model_kind: encoder-only, or a header that declares a pooling type) is
loaded in llama.cpp's embeddings mode with that pooling. A chat model asked for embeddings gets a 400 that
says so, and an embedding model asked to chat gets one too.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.core.errors import AppError
from app.server.endpoint import guarded, read_body, state_of
from app.server.errors import ApiError, bad_request, engine_stopped, from_app_error
from app.server.model_kind import is_embedding_model
from app.server.openai_api import error_response
from app.server.schemas import parse_json

MAX_INPUTS = 256


def _inputs(data: dict[str, Any]) -> tuple[str, ...]:
    value = data.get("input")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(s, str) for s in items):
        raise bad_request("'input' must be a string or a non-empty list of strings (token arrays are not "
                          "accepted)", "input")
    if len(items) > MAX_INPUTS:
        raise bad_request(f"'input' may hold at most {MAX_INPUTS} strings", "input")
    if any(not s for s in items):
        raise bad_request("'input' may not hold empty strings", "input")
    return tuple(items)


def _encoded(vector: tuple[float, ...], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return list(vector)


@guarded(error_response)
async def embeddings(request: Request) -> Response:
    data = parse_json(await read_body(request))
    model_id = data.get("model")
    if not isinstance(model_id, str) or not model_id.strip():
        raise bad_request("'model' is required: one of the ids GET /v1/models lists", "model")
    texts = _inputs(data)
    encoding = data.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise bad_request("'encoding_format' must be float or base64", "encoding_format")
    if data.get("dimensions") is not None:
        raise bad_request("'dimensions' is not supported: the model's vectors have a fixed size", "dimensions")
    state = state_of(request)
    model = await anyio.to_thread.run_sync(state.catalog.find, model_id.strip())
    if model is None:
        raise ApiError(404, f"The model '{model_id}' is not in the library: GET /v1/models lists the ids", "model")
    if not await anyio.to_thread.run_sync(is_embedding_model, model.path):
        raise bad_request(f"The model '{model.id}' is a chat model: its GGUF declares no pooling, so it gives no "
                          "embeddings. Use an embedding model (a BERT-like GGUF with a pooling type)", "model")
    lease = await state.scheduler.acquire(model.id)
    try:
        # Not cancellable: the engine answers this request before the lease goes to the next one.
        embedded = await anyio.to_thread.run_sync(lease.client.embed, texts)
    except AppError as exc:
        if not lease.client.alive:
            raise engine_stopped(model.id, exc) from exc
        raise from_app_error(exc) from exc
    finally:
        lease.release()
    return JSONResponse({
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": _encoded(v, encoding)}
                 for i, v in enumerate(embedded.vectors)],
        "model": model.id,
        "usage": {"prompt_tokens": embedded.prompt_tokens, "total_tokens": embedded.prompt_tokens},
    })
