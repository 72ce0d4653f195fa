"""A chat with one model of a remote endpoint, shaped like the engine client's blocking helpers
(`stream`, `stop`, `close`), so code that chats with a local engine can chat with a remote one."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from app.chat import protocol as p
from app.remote.client import RemoteClient, RemoteModel
from app.remote.endpoints import Endpoint
from app.remote.refs import REF_PREFIX, parse_remote_ref, remote_ref

__all__ = ["REF_PREFIX", "RemoteChat", "model_info", "open_remote", "parse_remote_ref", "remote_ref"]


class RemoteChat:
    def __init__(self, endpoint: Endpoint, model: str, client: RemoteClient | None = None) -> None:
        self.endpoint = endpoint
        self.model = model
        self._client = client or RemoteClient(endpoint)
        self._stop = threading.Event()
        self._ids = itertools.count(1)

    @property
    def description(self) -> str:
        return f"{self.model} on {self.endpoint.name}"

    def stream(self, messages: Sequence[p.ChatMessage] = (), *, sampling: p.Sampling | None = None,
               request_id: int | None = None, **_local_only: Any) -> Iterator[p.Token | p.Done]:
        """Template and context policy are the server's business; they are accepted and ignored."""
        self._stop.clear()
        rid = next(self._ids) if request_id is None else request_id
        return self._client.stream_chat(self.model, messages, sampling, request_id=rid, stop=self._stop)

    def stop(self) -> None:
        self._stop.set()

    def models(self) -> list[RemoteModel]:
        return self._client.models()

    def close(self) -> None:
        self._stop.set()
        self._client.close()

    def __enter__(self) -> RemoteChat:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def model_info(chat: RemoteChat, context: int | None, load_seconds: float) -> p.ModelInfo:
    """What the Chat page shows for a remote model (the server applies its own chat template)."""
    return p.ModelInfo(
        path=remote_ref(chat.endpoint.name, chat.model), description=chat.description, n_ctx=context or 0,
        n_ctx_train=context or 0, n_layer=0, n_vocab=0, n_swa=0, chat_template="(the server's own)",
        bos_text="", eos_text="", add_bos=False, load_seconds=load_seconds,
    )


def open_remote(ref: str) -> tuple[RemoteChat, p.ModelInfo]:
    """Connects to the endpoint a reference names and checks that it serves the model (blocking)."""
    import time

    from app.core.errors import RemoteModelNotFoundError
    from app.remote.endpoints import find_endpoint

    parsed = parse_remote_ref(ref)
    if parsed is None:
        raise ValueError(f"not a remote model reference: {ref}")
    started = time.monotonic()
    endpoint = find_endpoint(parsed[0])
    chat = RemoteChat(endpoint, parsed[1])
    try:
        models = {m.id: m for m in chat.models()}
        if parsed[1] not in models:
            raise RemoteModelNotFoundError(f"{endpoint.name} has no model {parsed[1]!r}",
                                           hint=f"list its models with: gguf-studio remote test {endpoint.name}")
    except BaseException:
        chat.close()
        raise
    return chat, model_info(chat, models[parsed[1]].context, time.monotonic() - started)
