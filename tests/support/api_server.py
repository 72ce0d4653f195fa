"""The API server (app.server) on a background thread of the test process, on a free port of 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from app.server.config import ServerConfig
from app.server.runner import ServerThread, make_state


@contextlib.contextmanager
def running_server(config: ServerConfig) -> Iterator[ServerThread]:
    server = ServerThread(make_state(config, None))  # hardware None: the budget is the config's limit or free RAM
    server.start()
    try:
        yield server
    finally:
        server.stop()


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 120) -> tuple[int, dict[str, Any]]:
    """One plain HTTP request (no SDK): status and JSON body, error statuses included."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_until(condition: Callable[[], bool], what: str, limit: float = 120.0) -> None:
    """Polls `condition` (a state, not a duration: the limit only keeps a broken test from hanging)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)
