"""An OpenAI-compatible endpoint as a chat backend: its models, what it reports about itself, and a
streamed chat reply as the engine's own Token/Done events (so the CLI and the Chat page need no second path).

Every request has a timeout; HTTP failures become the RemoteError subclasses of core/errors, and a stream
that stops before its end becomes a StreamDroppedError that carries the text received so far.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2

from app.chat import protocol as p
from app.core.errors import (
    RemoteAuthError,
    RemoteError,
    RemoteModelNotFoundError,
    RemoteServerError,
    RemoteUnreachableError,
    StreamDroppedError,
)
from app.remote.endpoints import Endpoint
from app.remote.sse import DONE, parse_events

log = logging.getLogger("app.remote")

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 120.0  # between two bytes: a big model's first token on a slow box can take this long
_FINISH: dict[str, p.FinishReason] = {"stop": "eog", "length": "length", "tool_calls": "eog",
                                      "content_filter": "stopped"}


@dataclass(frozen=True, slots=True)
class RemoteModel:
    id: str
    owned_by: str = ""
    context: int | None = None  # tokens per request, when the server says (llama-server)
    context_train: int | None = None
    size_bytes: int | None = None
    n_params: int | None = None


@dataclass(frozen=True, slots=True)
class ServerReport:
    """What an endpoint says about itself: `kind` is llama-server, gguf-studio or openai-compatible."""

    kind: str
    models: tuple[RemoteModel, ...]
    details: tuple[tuple[str, str], ...] = ()  # (label, value) lines for people


class RemoteClient:
    def __init__(self, endpoint: Endpoint, *, connect_timeout: float = CONNECT_TIMEOUT_S,
                 read_timeout: float = READ_TIMEOUT_S) -> None:
        self.endpoint = endpoint
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        timeout = httpx2.Timeout(read_timeout, connect=connect_timeout)
        self._http = httpx2.Client(base_url=endpoint.url, headers=headers, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plain requests

    def _get_json(self, path: str, *, optional: bool = False) -> Any:
        """The JSON body of GET path; None for an optional path the server does not have (or refuses)."""
        try:
            response = self._http.get(path)
        except httpx2.HTTPError as exc:
            raise self._transport_error(exc) from exc
        if optional and (response.status_code in (404, 405, 501) or response.status_code >= 500):
            return None
        if response.status_code >= 400:
            raise self._status_error(response.status_code, _error_text(response.content), path)
        try:
            return response.json()
        except ValueError:
            if optional:
                return None
            raise RemoteServerError(f"{self._where(path)} did not answer with JSON",
                                    hint="check the URL: it must be the server's base URL") from None

    def models(self) -> list[RemoteModel]:
        body = self._get_json("/v1/models")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise RemoteServerError(f"{self._where('/v1/models')} is not an OpenAI model list",
                                    hint="check the URL: it must be an OpenAI-compatible server")
        return [_model(item) for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]

    def report(self) -> ServerReport:
        models = tuple(self.models())
        props = self._get_json("/props", optional=True)
        if isinstance(props, dict) and ("default_generation_settings" in props or "total_slots" in props):
            return ServerReport("llama-server", models, _llama_details(props, self._get_json("/slots",
                                                                                              optional=True)))
        health = self._get_json("/health", optional=True)
        if isinstance(health, dict) and ("loaded" in health or "memory" in health):
            return ServerReport("gguf-studio", models, _studio_details(health))
        return ServerReport("openai-compatible", models)

    # ------------------------------------------------------------------ chat

    def stream_chat(
        self,
        model: str,
        messages: Sequence[p.ChatMessage],
        sampling: p.Sampling | None = None,
        *,
        request_id: int = 0,
        stop: threading.Event | None = None,
    ) -> Iterator[p.Token | p.Done]:
        """Token events as text arrives, then one Done. `stop` set ends the reply early (Done 'stopped')."""
        body = _chat_body(model, messages, sampling or p.Sampling())
        started = time.monotonic()
        first: float | None = None
        parts: list[str] = []
        finish: str | None = None
        usage: dict[str, Any] = {}
        try:
            with self._http.stream("POST", "/v1/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    raise self._status_error(response.status_code, _error_text(response.read()),
                                             "/v1/chat/completions", model)
                for event in parse_events(response.iter_lines()):
                    if stop is not None and stop.is_set():
                        finish = "stopped"
                        break
                    if event.data.strip() == DONE:
                        break
                    chunk = _json_or_none(event.data)
                    if not isinstance(chunk, dict):
                        continue
                    if isinstance(chunk.get("error"), dict):
                        raise StreamDroppedError(
                            f"{self.endpoint.name} stopped the reply: {_message_of(chunk)}",
                            partial="".join(parts), hint="the text received so far is kept")
                    if isinstance(chunk.get("usage"), dict):
                        usage = chunk["usage"]
                    for choice in chunk.get("choices") or ():
                        if not isinstance(choice, dict):
                            continue
                        delta = choice.get("delta") or {}
                        text = delta.get("content") if isinstance(delta, dict) else None
                        if isinstance(text, str) and text:
                            if first is None:
                                first = time.monotonic()
                            parts.append(text)
                            yield p.Token(request_id, text)
                        if choice.get("finish_reason"):
                            finish = str(choice["finish_reason"])
        except httpx2.HTTPError as exc:
            if parts or isinstance(exc, (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.ReadTimeout)):
                raise StreamDroppedError(
                    f"The connection to {self.endpoint.name} broke during the reply ({_reason(exc)})",
                    partial="".join(parts), hint="the text received so far is kept; send again to retry",
                ) from exc
            raise self._transport_error(exc) from exc
        if finish is None:
            raise StreamDroppedError(f"{self.endpoint.name} ended the reply before it was finished",
                                     partial="".join(parts),
                                     hint="the text received so far is kept; send again to retry")
        end = time.monotonic()
        text = "".join(parts)
        yield p.Done(request_id, text, _FINISH.get(finish, "eog"), _stats(usage, started, first, end))

    # ------------------------------------------------------------------ errors

    def _where(self, path: str) -> str:
        return f"{self.endpoint.name} ({self.endpoint.url}{path})"

    def _transport_error(self, exc: httpx2.HTTPError) -> RemoteError:
        if isinstance(exc, httpx2.TimeoutException) and not isinstance(exc, httpx2.ConnectTimeout):
            return RemoteServerError(f"{self.endpoint.name} did not answer in time ({_reason(exc)})",
                                     hint="the server may be overloaded; try again")
        return RemoteUnreachableError(f"Cannot reach {self.endpoint.name} at {self.endpoint.url}: {_reason(exc)}",
                                      hint="check that the server runs, and the address and port")

    def _status_error(self, status: int, text: str, path: str, model: str | None = None) -> RemoteError:
        said = f": {text}" if text else ""
        if status in (401, 403):
            return RemoteAuthError(f"{self.endpoint.name} refused the request ({status}){said}",
                                   hint="check the endpoint's API key (gguf-studio remote add NAME URL "
                                        "--api-key-file FILE)")
        if status == 404 and model is not None:
            return RemoteModelNotFoundError(f"{self.endpoint.name} has no model {model!r}{said}",
                                            hint=f"list its models with: gguf-studio remote test {self.endpoint.name}")
        if status == 404:
            return RemoteServerError(f"{self._where(path)} does not exist (404)",
                                     hint="check the URL: it must be an OpenAI-compatible server's base URL")
        if status >= 500:
            return RemoteServerError(f"{self.endpoint.name} failed ({status}){said}",
                                     hint="the server had a problem; see its log, then try again")
        return RemoteError(f"{self.endpoint.name} rejected the request ({status}){said}")


# ---------------------------------------------------------------------- parsing


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _message_of(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(body.get("message"), str):
            return str(body["message"])
    return ""


def _error_text(raw: bytes) -> str:
    message = _message_of(_json_or_none(raw.decode("utf-8", errors="replace")))
    if not message:
        message = raw.decode("utf-8", errors="replace").strip()
    return message[:300]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _model(item: dict[str, Any]) -> RemoteModel:
    meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
    assert isinstance(meta, dict)
    return RemoteModel(str(item["id"]), str(item.get("owned_by") or ""), _int(meta.get("n_ctx")),
                       _int(meta.get("n_ctx_train")), _int(meta.get("size")), _int(meta.get("n_params")))


def _llama_details(props: dict[str, Any], slots: Any) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    settings = props.get("default_generation_settings")
    if isinstance(settings, dict) and _int(settings.get("n_ctx")):
        out.append(("context", f"{settings['n_ctx']} tokens per slot"))
    if isinstance(props.get("model_path"), str):
        out.append(("model file", props["model_path"]))
    if isinstance(slots, list):
        busy = sum(1 for s in slots if isinstance(s, dict) and s.get("is_processing"))
        out.append(("slots", f"{len(slots)} ({busy} busy)"))
    elif _int(props.get("total_slots")):
        out.append(("slots", str(props["total_slots"])))
    if isinstance(props.get("build_info"), str):
        out.append(("build", props["build_info"]))
    return tuple(out)


def _studio_details(health: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    from app.core.units import format_bytes

    out: list[tuple[str, str]] = []
    memory = health.get("memory")
    if isinstance(memory, dict) and isinstance(memory.get("allowed_ram_bytes"), int):
        used = _count(memory.get("used_ram_bytes"))
        out.append(("memory", f"{format_bytes(used)} of {format_bytes(memory['allowed_ram_bytes'])} in use"))
    loaded = health.get("loaded")
    if isinstance(loaded, list):
        names = [str(m.get("id")) for m in loaded if isinstance(m, dict)]
        out.append(("loaded", ", ".join(names) if names else "none"))
    return tuple(out)


def _chat_body(model: str, messages: Sequence[p.ChatMessage], s: p.Sampling) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": s.max_tokens,
        "temperature": s.temperature,
        "top_p": s.top_p,
        # not in OpenAI's API, but llama-server, vLLM, Ollama and ours read them and others ignore them
        "top_k": s.top_k,
        "min_p": s.min_p,
        "repeat_penalty": s.repeat_penalty,
    }
    if s.seed is not None:
        body["seed"] = s.seed
    if s.stop:
        body["stop"] = list(s.stop)
    if s.frequency_penalty:
        body["frequency_penalty"] = s.frequency_penalty
    if s.presence_penalty:
        body["presence_penalty"] = s.presence_penalty
    return body


def _stats(usage: dict[str, Any], started: float, first: float | None, end: float) -> p.Stats:
    prompt = _count(usage.get("prompt_tokens"))
    generated = _count(usage.get("completion_tokens"))
    details = usage.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    ttft = (first if first is not None else end) - started
    return p.Stats(
        prompt_tokens=prompt, prompt_evaluated=max(0, prompt - cached),
        prompt_seconds=ttft, generated_tokens=generated, generation_seconds=end - (first or end),
        ttft_seconds=ttft, context_used=prompt + generated, context_size=0,
    )



def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
