"""What an installer bundle records about itself at build time (absent when running from a venv)."""

from __future__ import annotations

import json
from typing import Any

from app.core.resources import resources_dir

BUILD_INFO_FILE = "build_info.json"


def bundle_build_info() -> dict[str, Any] | None:
    """{'llama_backend': 'cpu', 'cmake_args': '…', 'built': '…', 'version': '…'} in a bundle, else None."""
    try:
        data = json.loads((resources_dir() / BUILD_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
