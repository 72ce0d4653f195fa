"""The API key: from `Authorization: Bearer KEY` (OpenAI clients) or `x-api-key: KEY` (Anthropic clients),
compared in constant time. Neither the expected nor the offered key is ever logged."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from app.server.errors import ApiError


def offered_key(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


def key_matches(offered: str | None, expected: str) -> bool:
    # compare_digest on bytes: the time taken does not depend on where the strings differ
    return offered is not None and hmac.compare_digest(offered.encode(), expected.encode())


def authorize(headers: Mapping[str, str], expected: str | None) -> None:
    """Raises a 401 ApiError unless no key is configured or the request carries the right one."""
    if expected is None:
        return
    offered = offered_key(headers)
    if not key_matches(offered, expected):
        what = "No API key was given" if offered is None else "The API key is not valid"
        raise ApiError(401, f"{what}: send it as 'Authorization: Bearer KEY' or 'x-api-key: KEY'")
