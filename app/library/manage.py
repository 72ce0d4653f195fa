"""Changing the library: delete a model, import files or folders (copy, move or link)."""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from app.core.atomic import fsync_dir
from app.core.errors import DiskFullError, LibraryError
from app.gguf.naming import is_model_file, parse_split
from app.library.entries import LibraryEntry
from app.quantize.quality_file import sidecar_path

log = logging.getLogger("app.library")

IMPORT_FOLDER = "imported"  # `<models>/imported/<model>/<file>` for files that come without a publisher
_COPY_CHUNK = 8 * 1024 * 1024


class ImportMode(str, enum.Enum):
    COPY = "copy"
    MOVE = "move"
    LINK = "link"


def delete_entry(entry: LibraryEntry) -> None:
    """Delete every file of a model and its quality score; empty folders left inside its library folder go too."""
    for path in [*entry.files, *(sidecar_path(f) for f in entry.files)]:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LibraryError(f"Could not delete {path}: {exc.strerror or exc}") from exc
    _prune_empty_dirs(entry.folder, entry.root)


def _prune_empty_dirs(folder: Path, root: Path) -> None:
    current = folder
    while current != root and current.is_relative_to(root):
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


def gguf_files_in(sources: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(file, path relative to what the user picked) for every model file among files and folders picked."""
    found: list[tuple[Path, Path]] = []
    for source in sources:
        if source.is_dir():
            for dirpath, _dirs, names in os.walk(source):
                for name in sorted(names):
                    if is_model_file(name):
                        file = Path(dirpath) / name
                        found.append((file, Path(source.name) / file.relative_to(source)))
        elif is_model_file(source.name):
            found.append((source, _default_relative(source)))
    return found


def _default_relative(file: Path) -> Path:
    split = parse_split(file.name)
    folder = split.stem if split else file.name[: -len(".gguf")]
    return Path(folder) / file.name


def import_files(
    sources: Sequence[Path],
    models_dir: Path,
    mode: ImportMode,
    on_file: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Bring model files into `<models>/imported/...`; returns the new paths. Existing files are not replaced."""
    plan = gguf_files_in(sources)
    if not plan:
        raise LibraryError("No GGUF model files among the chosen files or folders")
    dest_root = models_dir / IMPORT_FOLDER
    if mode != ImportMode.LINK:
        _check_space(plan, dest_root, mode)
    done: list[Path] = []
    for source, relative in plan:
        dest = dest_root / relative
        if dest.exists() or dest.is_symlink():
            log.info("skipping %s: %s already exists", source, dest)
            continue
        place_file(source, dest, mode)
        _place_sidecar(source, dest, mode)
        done.append(dest)
        if on_file is not None:
            on_file(dest)
    return done


def place_file(source: Path, dest: Path, mode: ImportMode) -> None:
    """Copy, move or link one file to `dest`, never leaving a half-written file under a model's name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if mode == ImportMode.LINK:
            os.symlink(source.resolve(), dest)
        elif mode == ImportMode.MOVE:
            try:
                os.rename(source, dest)  # same filesystem: instant and atomic
            except OSError:
                _copy_atomic(source, dest)
                source.unlink()
        else:
            _copy_atomic(source, dest)
    except OSError as exc:
        from app.downloads.disk import is_disk_full

        if is_disk_full(exc):
            raise DiskFullError(f"The disk filled up while importing {source.name}") from exc
        raise LibraryError(f"Could not import {source}: {exc.strerror or exc}") from exc


def _place_sidecar(source: Path, dest: Path, mode: ImportMode) -> None:
    """The quality score goes where its model goes, the same way; without it the model still imports."""
    side = sidecar_path(source)
    if not side.is_file():
        return
    try:
        place_file(side, sidecar_path(dest), mode)
    except (LibraryError, DiskFullError) as exc:
        log.warning("the quality score of %s stays behind: %s", source.name, exc)


def _copy_atomic(source: Path, dest: Path) -> None:
    part = dest.with_name(dest.name + ".part")
    try:
        with open(source, "rb") as src, open(part, "wb") as dst:
            shutil.copyfileobj(src, dst, _COPY_CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        shutil.copystat(source, part)
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
    fsync_dir(dest.parent)


def _check_space(plan: Sequence[tuple[Path, Path]], dest_root: Path, mode: ImportMode) -> None:
    from app.downloads.disk import ensure_free_space

    probe = dest_root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    dest_dev = probe.stat().st_dev
    needed = sum(src.stat().st_size for src, _ in plan if mode == ImportMode.COPY or src.stat().st_dev != dest_dev)
    if needed:
        ensure_free_space(dest_root, needed, margin=0)
