"""Every directory the app uses, from platformdirs. Tests redirect them all with GGUF_STUDIO_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "gguf-studio"
HOME_OVERRIDE_ENV = "GGUF_STUDIO_HOME"


def _override_root() -> Path | None:
    root = os.environ.get(HOME_OVERRIDE_ENV)
    return Path(root) if root else None


def _dir(kind: str) -> Path:
    root = _override_root()
    if root is not None:
        path = root / kind
    else:
        getter = {
            "config": platformdirs.user_config_path,
            "data": platformdirs.user_data_path,
            "cache": platformdirs.user_cache_path,
            "logs": platformdirs.user_log_path,
        }[kind]
        path = getter(APP_NAME, appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    return _dir("config")


def data_dir() -> Path:
    return _dir("data")


def cache_dir() -> Path:
    return _dir("cache")


def log_dir() -> Path:
    return _dir("logs")


def log_file() -> Path:
    return log_dir() / "gguf-studio.log"


def settings_file() -> Path:
    return config_dir() / "settings.json"


def default_models_dir() -> Path:
    """Where models land unless the user picks another folder (LM Studio's layout inside it)."""
    return data_dir() / "models"
