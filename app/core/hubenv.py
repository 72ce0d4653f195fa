"""Hub-related environment, read in one place (the same variables huggingface_hub honours)."""

from __future__ import annotations

import os

DEFAULT_ENDPOINT = "https://huggingface.co"


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "on", "yes", "true"}
