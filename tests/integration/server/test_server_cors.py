"""Browsers may call the API only from origins the user named; CORS is off by default."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from conftest import KEY, config

from tests.support.api_server import running_server

ORIGIN = "http://localhost:3000"


def preflight(base_url: str) -> dict[str, str]:
    request = urllib.request.Request(f"{base_url}/v1/chat/completions", method="OPTIONS", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        return {k.lower(): v for k, v in exc.headers.items()}


def allowed_origin_of_get(base_url: str) -> str | None:
    request = urllib.request.Request(f"{base_url}/v1/models", headers={"Origin": ORIGIN,
                                                                        "Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers.get("access-control-allow-origin")


def test_cors_is_off_by_default(tmp_path: Path) -> None:
    with running_server(config(tmp_path)) as server:
        assert "access-control-allow-origin" not in preflight(server.base_url)
        assert allowed_origin_of_get(server.base_url) is None


def test_cors_allows_only_the_named_origins(tmp_path: Path) -> None:
    with running_server(config(tmp_path, cors_origins=(ORIGIN,))) as server:
        assert preflight(server.base_url)["access-control-allow-origin"] == ORIGIN
        assert allowed_origin_of_get(server.base_url) == ORIGIN
