"""Changing the library: delete a model, import files or folders (copy, move or link)."""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Refused:
    path: Path
    reason: str  # why its header is not a model's, for the user


@dataclass(frozen=True, slots=True)
class ImportResult:
    placed: tuple[Path, ...]  # the new files in the library
    refused: tuple[Refused, ...] = ()  # named .gguf but not a readable model: left where they are
    existing: int = 0  # already in the library: not replaced

    def describe(self) -> str:
        """One line for the user: what came in, what did not and why."""
        parts = [f"Imported {len(self.placed)} file(s)" if self.placed else "Nothing new imported"]
        if self.existing:
            parts.append(f"{self.existing} already in the library")
        if self.refused:
            parts.append(f"refused {_refused_text(self.refused)}")
        return " · ".join(parts)


def check_header(path: Path) -> str | None:
    """Why `path` is not a model file the library can list (None when its header reads): checked before
    anything is copied, so a text file named `.gguf` never lands in the models folder."""
    from app.core.errors import GGUFError
    from app.gguf.reader import read_header

    try:
        read_header(path)
    except GGUFError as exc:
        return str(exc).removesuffix(" (at byte 0)")  # the magic: "it starts with …" says it already
    return None


def _refused_text(refused: Sequence[Refused]) -> str:
    """`notes.gguf is not a GGUF file: it starts with "this", not GGUF`; other reasons after a colon."""
    return "; ".join(
        f"{r.path.name} is {r.reason}" if r.reason.startswith("not a GGUF file") else f"{r.path.name}: {r.reason}"
        for r in refused
    )


def import_files(
    sources: Sequence[Path],
    models_dir: Path,
    mode: ImportMode,
    on_file: Callable[[Path], None] | None = None,
) -> ImportResult:
    """Bring model files into `<models>/imported/...`. Every header is read first: files that are not GGUF
    models are refused and left alone; when none is a model nothing is imported and the error says why.
    Existing files are not replaced."""
    found = gguf_files_in(sources)
    if not found:
        raise LibraryError("No GGUF model files among the chosen files or folders")
    plan: list[tuple[Path, Path]] = []
    refused: list[Refused] = []
    for source, relative in found:
        reason = check_header(source)
        if reason is None:
            plan.append((source, relative))
        else:
            refused.append(Refused(source, reason))
    if not plan:
        raise LibraryError(
            f"Nothing imported: {_refused_text(refused)}",
            hint="only GGUF model files can join the library; check the file, or download it again",
        )
    dest_root = models_dir / IMPORT_FOLDER
    if mode != ImportMode.LINK:
        _check_space(plan, dest_root, mode)
    done: list[Path] = []
    existing = 0
    for source, relative in plan:
        dest = dest_root / relative
        if dest.exists() or dest.is_symlink():
            log.info("skipping %s: %s already exists", source, dest)
            existing += 1
            continue
        projector = _projector_of(source)  # read before a move takes the model away from it
        place_file(source, dest, mode)
        _place_sidecar(source, dest, mode)
        _place_projector(projector, dest, mode)
        done.append(dest)
        if on_file is not None:
            on_file(dest)
    return ImportResult(tuple(done), tuple(refused), existing)


def list_in_library(files: Iterable[Path], models_dir: Path, folders: Sequence[Path]) -> list[Path]:
    """Make the library list exactly these model files: those outside its folders are linked in as
    `<models>/imported/...`. Never the folder around them, which may hold copies, unrelated files or a model
    the user deleted from the library. Returns the links made."""
    from app.library.scan import library_roots

    roots = library_roots([models_dir, *folders])
    outside: list[Path] = []
    for file in files:
        resolved = file.resolve()
        if is_model_file(file.name) and file.is_file() and not any(resolved.is_relative_to(r) for r in roots):
            outside.append(resolved)
    return list(import_files(outside, models_dir, ImportMode.LINK).placed) if outside else []


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


def _projector_of(model: Path) -> Path | None:
    from app.chat.projector import projector_for

    found = projector_for(model)
    return Path(found) if found else None


def _place_projector(projector: Path | None, dest: Path, mode: ImportMode) -> None:
    """A vision model's projector (the mmproj beside it that fits) goes where the model goes, so Chat pairs
    them there too; a move copies it (another model in the source folder may use it as well)."""
    if projector is None:
        return
    target = dest.parent / projector.name
    if target.exists() or target.is_symlink():
        return
    try:
        place_file(projector, target, ImportMode.COPY if mode == ImportMode.MOVE else mode)
    except (LibraryError, DiskFullError) as exc:
        log.warning("the projector %s stays behind: %s", projector.name, exc)


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
