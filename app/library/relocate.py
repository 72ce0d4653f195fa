"""A new models folder: move the models there, or keep them where they are; either way none goes missing."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import AppError, LibraryError
from app.library.manage import ImportMode, place_file
from app.quantize.quality_file import is_sidecar

log = logging.getLogger("app.library")


@dataclass(frozen=True, slots=True)
class FolderContents:
    files: int  # model files (projectors included) and their quality scores
    size: int


@dataclass(frozen=True, slots=True)
class MoveResult:
    moved: int
    left: tuple[Path, ...]  # files that could not move: the old folder must stay in the library for them


def _movable(root: Path) -> Iterator[Path]:
    """Files that belong to the library: GGUF files (split parts, projectors) and quality scores. Downloads
    still in progress (`*.part`), claims and everything else stay where they are."""
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            if name.lower().endswith(".gguf") or is_sidecar(name):
                yield Path(dirpath) / name


def folder_contents(root: Path) -> FolderContents:
    files = size = 0
    for path in _movable(root):
        try:
            size += path.lstat().st_size
        except OSError:
            continue
        files += 1
    return FolderContents(files, size)


def move_models(old: Path, new: Path, on_file: Callable[[Path], None] | None = None) -> MoveResult:
    """Move every library file from `old` to the same place under `new` (a rename where the disk is the
    same). A file whose name is taken under `new`, or that cannot move, stays and is reported."""
    if new.resolve().is_relative_to(old.resolve()):
        raise LibraryError(
            f"{new} is inside the current models folder {old}",
            hint="pick a folder outside it, or keep the models where they are",
        )
    moved = 0
    left: list[Path] = []
    for source in list(_movable(old)):
        dest = new / source.relative_to(old)
        if dest.exists() or dest.is_symlink():
            log.warning("not moving %s: %s already exists", source, dest)
            left.append(source)
            continue
        try:
            place_file(source, dest, ImportMode.MOVE)
        except AppError as exc:
            log.warning("not moving %s: %s", source, exc)
            left.append(source)
            continue
        moved += 1
        if on_file is not None:
            on_file(dest)
    _prune(old)
    return MoveResult(moved, tuple(left))


def _prune(root: Path) -> None:
    """Folders the move emptied go; the models folder itself stays."""
    for dirpath, _dirs, _names in sorted(os.walk(root), key=lambda w: -len(w[0])):
        if Path(dirpath) != root:
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)
