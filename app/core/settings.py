"""Typed user settings, persisted atomically as JSON, with change notification (no Qt)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from app.core import paths
from app.core.atomic import write_text_atomic
from app.core.errors import ConfigError
from app.core.locking import locked

log = logging.getLogger("app.settings")

THEMES = ("system", "light", "dark")


@dataclass(frozen=True, slots=True)
class Preferences:
    models_dir: str = ""  # empty: paths.default_models_dir()
    library_folders: tuple[str, ...] = ()
    threads: int = 0  # 0: let the engine pick (physical cores)
    theme: str = "system"
    download_parallel: int = 2
    download_segments: int = 8  # connections per file (ranged segments); 1: one stream
    default_context: int = 4096
    window_geometry: str = ""  # base64 of QMainWindow.saveGeometry()
    last_page: str = "discover"
    server_autostart: bool = False  # the API server (Server page) starts with the app
    server_port: int = 8765
    server_lan: bool = False  # listen on every interface (a key is then required) instead of 127.0.0.1
    # requests one model answers at once: 2 so a chat sharing the server's engine and one API client never wait
    # on each other (each sequence has the full context, so the estimate counts two caches)
    server_parallel: int = 2

    def validated(self) -> Preferences:
        if self.theme not in THEMES:
            raise ConfigError(f"Unknown theme {self.theme!r}", hint=f"choose one of {', '.join(THEMES)}")
        if not 0 <= self.threads <= 512:
            raise ConfigError(f"Thread count {self.threads} is out of range", hint="use 0 for automatic")
        if not 1 <= self.download_parallel <= 8:
            raise ConfigError("Parallel downloads must be between 1 and 8")
        if not 1 <= self.download_segments <= 16:
            raise ConfigError("Connections per download must be between 1 and 16")
        if not 1 <= self.server_port <= 65535 or not 1 <= self.server_parallel <= 64:
            raise ConfigError("The server's port or parallel requests are out of range")
        if not 256 <= self.default_context <= 1 << 21:
            raise ConfigError(f"Context length {self.default_context} is out of range")
        return self


Listener = Callable[[Preferences, Preferences], None]


def _from_json(raw: dict[str, Any]) -> Preferences:
    known = {f.name: f for f in fields(Preferences)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            continue  # a setting from a newer or older version: ignore rather than fail
        default = getattr(Preferences(), key)
        if isinstance(default, tuple):
            value = tuple(str(v) for v in value) if isinstance(value, list) else default
        elif type(default) is not type(value):
            log.warning("ignoring setting %s with a value of the wrong type", key)
            continue
        values[key] = value
    try:
        return Preferences(**values).validated()
    except ConfigError as exc:
        log.warning("settings file has an invalid value (%s); using defaults", exc)
        return Preferences()


class Settings:
    """The current preferences; `update` validates, saves and notifies subscribers."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path or paths.settings_file()
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._values = self._load()

    @property
    def values(self) -> Preferences:
        return self._values

    @property
    def path(self) -> Path:
        return self._path

    def models_path(self) -> Path:
        return Path(self._values.models_dir).expanduser() if self._values.models_dir else paths.default_models_dir()

    def update(self, **changes: Any) -> Preferences:
        """Apply `changes` to the settings on disk, under a cross-process lock: another process's changes to
        other fields are kept, never overwritten by our older copy."""
        with self._lock, locked(self._path):
            old = self._values
            on_disk = self._load()
            new = replace(on_disk, **changes).validated()
            if new != on_disk:
                self._save(new)
            self._values = new
            if new == old:
                return old
        for listener in list(self._listeners):
            listener(old, new)
        return new

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _load(self) -> Preferences:
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Preferences()
        except (OSError, ValueError) as exc:
            broken = self._path.with_name(self._path.name + ".broken")
            log.warning("settings unreadable (%s); keeping a copy at %s and using defaults", exc, broken)
            with contextlib.suppress(OSError):
                os.replace(self._path, broken)
            return Preferences()
        return _from_json(raw) if isinstance(raw, dict) else Preferences()

    def _save(self, values: Preferences) -> None:
        data = dataclasses.asdict(values)
        write_text_atomic(self._path, json.dumps(data, indent=2, sort_keys=True))
