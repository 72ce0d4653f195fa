"""Locate files from resources/: inside the installed package, or at the root of a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def resources_dir() -> Path:
    package_dir = Path(__file__).resolve().parents[1]  # app/ (core imports nothing else of app, not even app)
    for candidate in (package_dir / "resources", package_dir.parent / "resources"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"resources folder not found next to {package_dir}")


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
