"""What the server was asked for. Checked once, when it is made: a server reachable from other machines
always has a key."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from app.chat.protocol import EngineSettings
from app.core.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_TTL_S = 300.0  # Ollama's keep-alive; LM Studio's JIT models default to an hour
DEFAULT_MAX_BODY = 8 * 1024 * 1024
GUI_ENGINE_NICE = 5  # ServerConfig.engine_nice of the Server page
MAX_PARALLEL = 64  # sequences of one engine (llama.cpp's LLAMA_MAX_SEQ is 256; each costs a full KV cache)


@dataclass(frozen=True, slots=True)
class BudgetAdvice:
    """What the user can change where the server was started when a model needs more memory than the server
    may use: the last words of that refusal. These name the flags of `serve`; the app's Server page, which
    has none of them, gives its own controls (app.ui.pages.server)."""

    ram: str = "start the server with a higher --memory-limit, a shorter --ctx or a lower --parallel"
    gpu: str = "start the server with fewer --gpu-layers, a shorter --ctx or a lower --parallel"  # VRAM, RPC devices


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT  # 0: any free port (tests)
    api_key: str | None = field(default=None, repr=False)  # never in a repr, so never in a log line
    models_ttl: float = DEFAULT_TTL_S  # seconds an idle model stays loaded; 0: until the server stops
    memory_limit: int | None = None  # bytes of RAM the loaded models may take; None: free RAM at start
    budget_advice: BudgetAdvice = field(default_factory=BudgetAdvice)  # in the refusals of a model too large
    max_body_bytes: int = DEFAULT_MAX_BODY
    cors_origins: tuple[str, ...] = ()  # browsers may call the API only from these origins (off when empty)
    engine: EngineSettings = field(default_factory=EngineSettings)
    fallback_template: str | None = None  # chat template for models whose GGUF has none (else a 400)
    folders: tuple[Path, ...] | None = None  # library folders; None: those of the settings store
    # image_url parts with http(s) URLs are fetched by the server (else refused: callers could make it request
    # any address it reaches, the LAN included)
    fetch_remote_images: bool = False
    # Engines run this many nice steps below the server: the app's Server page serves from the GUI process, and
    # engines at its priority on every core delay the GUI's (and the server thread's) wake-ups; a nicer engine
    # loses nothing while the app is idle. 0 for `serve`, which has no window to keep responsive.
    engine_nice: int = 0

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.api_key.strip():
            raise ConfigError("The API key is empty", hint="give a key, or leave the option out")
        if not is_loopback(self.host) and self.api_key is None:
            raise ConfigError(
                f"Serving on {self.host} makes the API reachable from other machines, so it needs a key",
                hint="pass --api-key KEY or --api-key-file FILE, or keep the default host 127.0.0.1",
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"Port {self.port} is out of range", hint="use a port between 1 and 65535")
        if self.models_ttl < 0:
            raise ConfigError("The model TTL cannot be negative", hint="give seconds, or 0 to keep models loaded")
        if self.memory_limit is not None and self.memory_limit <= 0:
            raise ConfigError("The memory limit must be positive")
        if self.max_body_bytes <= 0:
            raise ConfigError("The request body limit must be positive")
        if not 1 <= self.engine.n_parallel <= min(MAX_PARALLEL, self.engine.n_batch):
            raise ConfigError(f"{self.engine.n_parallel} parallel requests per model is out of range",
                              hint=f"use 1 to {min(MAX_PARALLEL, self.engine.n_batch)}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to any interface


_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1024**3, "gb": 1000**3, "gib": 1024**3, "t": 1024**4, "tb": 1000**4, "tib": 1024**4}


def parse_size(text: str) -> int:
    """`8G`, `8GiB`, `7.5GB`, `512M` or plain bytes."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ConfigError(f"{text!r} is not a size", hint="write it like 8G, 8GiB, 7.5GB or 512M")
    return int(float(match.group(1)) * _UNITS[unit])
