"""Locate files from resources/: inside the installed package, or at the root of a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import app


@cache
def resources_dir() -> Path:
    package_dir = Path(app.__file__).resolve().parent
    for candidate in (package_dir / "resources", package_dir.parent / "resources"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"resources folder not found next to {package_dir}")


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
