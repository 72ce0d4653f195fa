"""The API key the app's Server page uses: kept in its own file, readable by the user only, never logged."""

from __future__ import annotations

import secrets
from pathlib import Path

from app.core import paths
from app.core.atomic import write_text_atomic

KEY_FILE = "server-api-key"


def key_path() -> Path:
    return paths.config_dir() / KEY_FILE


def load_key() -> str | None:
    try:
        text = key_path().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def save_key(key: str | None) -> None:
    """Stores `key` (mode 0600); None or an empty key removes the file."""
    path = key_path()
    if not key or not key.strip():
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, key.strip() + "\n", mode=0o600)


def new_key() -> str:
    return "gs-" + secrets.token_urlsafe(24)
