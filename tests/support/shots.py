"""Window grabs GUI tests save for a person to look at (look at what you build).

They go to the folder the environment variable GGUF_STUDIO_SHOTS names, and nowhere without it: a test run
on a fresh machine writes nothing outside its own temporary folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QWidget

SHOTS_ENV = "GGUF_STUDIO_SHOTS"


def shots_dir() -> Path | None:
    folder = os.environ.get(SHOTS_ENV)
    return Path(folder) if folder else None


def save_shot(widget: QWidget, name: str) -> Path | None:
    """Saves the widget's grab as <name>.png in the shots folder; the path, or None when no folder is set."""
    folder = shots_dir()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise OSError(f"could not save the window grab {path}")
    return path
