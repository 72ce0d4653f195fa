"""Find the models under the library folders: walk, group split sets, summarize headers through the cache."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import AppError
from app.gguf.naming import is_model_file, parse_split
from app.library.entries import LibraryEntry, ModelSummary
from app.library.index import CachedRow, HeaderIndex
from app.quantize.quality_file import is_sidecar, load_quality, model_name_of

log = logging.getLogger("app.library")

PART_SUFFIX = ".part"
Summarizer = Callable[[Path], ModelSummary]


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    size: int
    mtime_ns: int
    root: Path
    broken_link: bool = False


@dataclass
class _Group:
    files: list[_File] = field(default_factory=list)
    count: int = 1
    in_progress: bool = False  # a missing part is being downloaded next to it


def library_roots(folders: Sequence[Path]) -> list[Path]:
    """Existing folders, each once; a folder inside another one is already covered by it."""
    resolved: list[Path] = []
    for folder in folders:
        try:
            path = folder.expanduser().resolve()
        except OSError:
            continue
        if path.is_dir() and path not in resolved:
            resolved.append(path)
    return [p for p in resolved if not any(p != q and p.is_relative_to(q) for q in resolved)]


def scan_library(
    folders: Sequence[Path],
    index: HeaderIndex | None = None,
    summarize: Summarizer | None = None,
    visited: list[Path] | None = None,
) -> list[LibraryEntry]:
    """Every model under `folders`; `visited` (if given) receives each folder walked, for a file watcher."""
    if summarize is None:
        from app.library.summary import summarize_file

        summarize = summarize_file
    index = index or HeaderIndex()
    sidecars: dict[str, str] = {}  # model path -> its quality sidecar's signature
    groups = _group(file for root in library_roots(folders) for file in _walk(root, root, visited, sidecars))
    cached = index.load()
    fresh: dict[str, CachedRow] = {}
    entries: list[LibraryEntry] = []
    for group in groups:
        if group.in_progress:
            continue
        files = sorted(group.files, key=lambda f: f.path.name)
        first = files[0]
        key = str(first.path)
        signature = json.dumps([[f.path.name, f.size, f.mtime_ns] for f in files])
        size = sum(f.size for f in files)
        row = cached.get(key)
        if row is None or row.signature != signature:
            row = _read(first, group, summarize, signature)
            fresh[key] = row
        quality_signature = sidecars.get(key, "")
        if row.quality_signature != quality_signature:
            quality = load_quality(first.path, size) if quality_signature else None
            row = fresh[key] = dataclasses.replace(row, quality_signature=quality_signature, quality=quality)
        entries.append(
            LibraryEntry(
                path=first.path,
                files=tuple(f.path for f in files),
                size=size,
                root=first.root,
                summary=row.summary,
                error=row.error,
                quality=row.quality,
            )
        )
    keep = [str(e.path) for e in entries]
    if fresh or len(cached) != len(keep) or set(cached) != set(keep):
        index.update(fresh, keep)
    entries.sort(key=lambda e: (e.name.lower(), str(e.path)))
    return entries


def _read(first: _File, group: _Group, summarize: Summarizer, signature: str) -> CachedRow:
    if first.broken_link:
        return CachedRow(signature, None, "the link points to a file that no longer exists")
    if len(group.files) < group.count:
        have = len(group.files)
        return CachedRow(signature, None, f"split model is incomplete: {have} of {group.count} parts present")
    try:
        return CachedRow(signature, summarize(first.path), None)
    except AppError as exc:
        return CachedRow(signature, None, str(exc))
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", first.path, exc)
        return CachedRow(signature, None, f"cannot read the file: {exc}")


def _walk(directory: Path, root: Path, visited: list[Path] | None, sidecars: dict[str, str]) -> Iterator[_File]:
    if visited is not None:
        visited.append(directory)
    try:
        with os.scandir(directory) as it:
            entries = list(it)
    except OSError as exc:
        log.warning("cannot list %s: %s", directory, exc)
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path), root, visited, sidecars)
                continue
            if is_sidecar(name):
                if not entry.is_file():
                    continue
                st = entry.stat()  # the one extra stat: only files that have a score pay it
                sidecars[os.path.join(directory, model_name_of(name))] = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
                continue
            if not is_model_file(name):
                continue  # also skips `*.part` temporaries, `*.lock` claims, projector and imatrix files
            try:
                st = entry.stat()
            except FileNotFoundError:
                if entry.is_symlink():
                    yield _File(Path(entry.path), 0, 0, root, broken_link=True)
                continue
            if entry.is_file():
                yield _File(Path(entry.path), st.st_size, st.st_mtime_ns, root)
        except OSError as exc:
            log.warning("cannot read %s: %s", entry.path, exc)


def _group(files: Iterator[_File]) -> list[_Group]:
    groups: dict[tuple[str, str, int], _Group] = {}
    result: list[_Group] = []
    for file in files:
        split = parse_split(file.path.name)
        if split is None or split.count == 1:
            result.append(_Group([file]))
            continue
        key = (str(file.path.parent), split.stem.lower(), split.count)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(count=split.count)
            result.append(group)
        group.files.append(file)
    for (parent, _stem, _count), group in groups.items():
        if len(group.files) < group.count:
            first = parse_split(group.files[0].path.name)
            assert first is not None
            present = {f.path.name for f in group.files}
            missing = [first.part_name(n) for n in range(1, group.count + 1)]
            missing = [m for m in missing if m not in present]
            group.in_progress = any(os.path.exists(os.path.join(parent, m + PART_SUFFIX)) for m in missing)
    return result
