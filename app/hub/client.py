"""HfApi and raw requests bound to the endpoint and token of this moment (read at call time, never cached)."""

from __future__ import annotations

from typing import Any

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from app.core.hubenv import hub_endpoint

TIMEOUT_S = 15.0  # per request: connect + each read


def api(token: str | None = None) -> HfApi:
    """HfApi for the current HF_ENDPOINT; the token defaults to huggingface_hub's own lookup (HF_TOKEN, login)."""
    return HfApi(endpoint=hub_endpoint(), token=token)


def prepare_session() -> None:
    """Create huggingface_hub's shared HTTP client now if no call has yet. Its TLS set-up loads the CA bundle
    (tens of ms of CPU); a second caller waits for the first instead of doing it again beside it."""
    get_session()


def headers(token: str | bool | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    return build_hf_headers(token=token, headers=extra, library_name="gguf-studio")


def get(
    url: str,
    *,
    params: Any = None,
    token: str | bool | None = None,
    extra_headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT_S,
) -> httpx2.Response:
    """One GET through huggingface_hub's shared session (redirects followed), raising its typed HTTP errors."""
    response = get_session().get(
        url, params=params, headers=headers(token, extra_headers), timeout=timeout, follow_redirects=True
    )
    hf_raise_for_status(response)
    return response
