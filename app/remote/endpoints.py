"""The user's remote endpoints (name, base URL, optional key) in config_dir()/remote.json.

The file is the only place a key is kept: written atomically with mode 0600, and an Endpoint never shows
its key in a repr, so it cannot reach a log line by accident.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from app.core import paths
from app.core.atomic import write_text_atomic
from app.core.errors import ConfigError

log = logging.getLogger("app.remote")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    url: str  # base URL without the /v1 suffix: http://host:port
    api_key: str | None = field(default=None, repr=False)

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"


def endpoints_file() -> Path:
    return paths.config_dir() / "remote.json"


def normalize_url(url: str) -> str:
    """`host:port`, `http://host:port/` or `http://host:port/v1` all become `http://host:port`."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{url!r} is not an http(s) URL", hint="write it like http://192.168.1.20:8080")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{url!r} has parts an API base URL cannot have",
                          hint="give scheme, host, port and path only; put the key in --api-key-file")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[:-3]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{name!r} is not a usable endpoint name",
                          hint="use letters, digits, '.', '_' or '-' (up to 64), starting with a letter or digit")
    return name


def load_endpoints() -> list[Endpoint]:
    try:
        raw = json.loads(endpoints_file().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise ConfigError(f"The remote endpoints file {endpoints_file()} cannot be read: {exc}",
                          hint="fix or delete the file") from exc
    out: list[Endpoint] = []
    for item in raw.get("endpoints", []) if isinstance(raw, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("url"), str):
            key = item.get("api_key")
            out.append(Endpoint(item["name"], item["url"], key if isinstance(key, str) and key else None))
    return out


def save_endpoints(endpoints: list[Endpoint]) -> None:
    data = {"endpoints": [{"name": e.name, "url": e.url, **({"api_key": e.api_key} if e.api_key else {})}
                          for e in endpoints]}
    write_text_atomic(endpoints_file(), json.dumps(data, indent=2) + "\n", mode=0o600)


def find_endpoint(name: str) -> Endpoint:
    for endpoint in load_endpoints():
        if endpoint.name == name:
            return endpoint
    known = ", ".join(e.name for e in load_endpoints()) or "none yet"
    raise ConfigError(f"No remote endpoint is called {name!r} (known: {known})",
                      hint="add it with: gguf-studio remote add NAME URL")


def add_endpoint(endpoint: Endpoint, *, replace: bool = False) -> None:
    check_name(endpoint.name)
    current = load_endpoints()
    if not replace and any(e.name == endpoint.name for e in current):
        raise ConfigError(f"A remote endpoint called {endpoint.name!r} exists already",
                          hint="remove it first, or pick another name")
    save_endpoints([e for e in current if e.name != endpoint.name] + [endpoint])
    log.info("remote endpoint %s saved (%s, %s)", endpoint.name, endpoint.url,
             "with a key" if endpoint.api_key else "no key")


def remove_endpoint(name: str) -> None:
    current = load_endpoints()
    if not any(e.name == name for e in current):
        find_endpoint(name)  # raises with the known names
    save_endpoints([e for e in current if e.name != name])
