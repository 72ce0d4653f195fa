"""Where a quantize job writes unless the user picks a folder: the models folder, in the layout downloads use.

A source already inside the models folder (a download: `<models>/<publisher>/<repo>/`) gets its quants beside
it; any other source gets `<models>/local/<name>/`, so the Library lists the quants without a new scan folder
and nothing lands beside a file the user keeps elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

LOCAL_PUBLISHER = "local"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_out_dir(source: Path, models_dir: Path) -> Path:
    folder = source if source.is_dir() else source.parent
    if folder.resolve().is_relative_to(models_dir.resolve()):
        return folder
    return models_dir / LOCAL_PUBLISHER / folder_name(source.name if source.is_dir() else source.stem)


def folder_name(name: str) -> str:
    """A name as a portable folder name of the publisher/repo layout (what a Hub repo name may hold)."""
    cleaned = _UNSAFE.sub("-", name).strip("-.")
    return cleaned[:96] or "model"
