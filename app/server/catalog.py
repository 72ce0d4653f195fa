"""The library as the API sees it: usable models under ids that stay the same across restarts.

An id is the model's path inside its library folder, lowercased, without `.gguf` and without the split
suffix (`unsloth/gemma-3-270m-it-gguf/gemma-3-270m-it-q4_k_m`), the layout LM Studio users already know.
Requests name models by id only, so the API never opens a file outside the library.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.gguf.naming import parse_split
from app.library.entries import LibraryEntry

_UNSAFE = re.compile(r"[^a-z0-9._/-]+")


@dataclass(frozen=True, slots=True)
class ServedModel:
    id: str
    entry: LibraryEntry

    @property
    def path(self) -> Path:
        return self.entry.path

    @property
    def created(self) -> int:
        try:
            return int(self.entry.path.stat().st_mtime)
        except OSError:
            return 0


def slug(entry: LibraryEntry) -> str:
    try:
        relative = entry.path.relative_to(entry.root)
    except ValueError:
        relative = Path(entry.path.name)
    name = relative.name
    split = parse_split(name)
    stem = split.stem if split else name[: -len(".gguf")] if name.lower().endswith(".gguf") else name
    text = "/".join([*relative.parts[:-1], stem]).lower()
    return _UNSAFE.sub("-", text).strip("-/") or "model"


def served_models(entries: Sequence[LibraryEntry]) -> list[ServedModel]:
    """Usable entries with their ids; the same relative path under two folders gets `-2`, `-3`… in the
    order of the folders."""
    models: list[ServedModel] = []
    taken: set[str] = set()
    for entry in entries:
        if not entry.usable:
            continue
        base = candidate = slug(entry)
        n = 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        models.append(ServedModel(candidate, entry))
    return models


class Catalog:
    """Scans the library folders on demand (a warm scan reads no header, through the library's index)."""

    def __init__(self, folders: Callable[[], Sequence[Path]]) -> None:
        self._folders = folders
        self._lock = threading.Lock()
        self._models: dict[str, ServedModel] = {}

    def refresh(self) -> list[ServedModel]:
        from app.library.scan import scan_library

        folders = list(self._folders())
        entries = scan_library(folders)
        order = {root: i for i, root in enumerate(_resolved(folders))}
        entries.sort(key=lambda e: (order.get(e.root, len(order)), str(e.path)))
        models = served_models(entries)
        with self._lock:
            self._models = {m.id: m for m in models}
        return sorted(models, key=lambda m: m.id)

    def find(self, model_id: str) -> ServedModel | None:
        """The model with this id; the library is scanned again when the id is not known (a new download)."""
        with self._lock:
            found = self._models.get(model_id)
        if found is not None and found.path.exists():
            return found
        return {m.id: m for m in self.refresh()}.get(model_id)


def _resolved(folders: Sequence[Path]) -> list[Path]:
    out = []
    for folder in folders:
        try:
            out.append(folder.expanduser().resolve())
        except OSError:
            continue
    return out


def settings_folders() -> list[Path]:
    """The models folder and the folders added on the Library page."""
    from app.core.settings import Settings

    settings = Settings()
    return [settings.models_path(), *(Path(f) for f in settings.values.library_folders)]
