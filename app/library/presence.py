"""What the library holds, in the shape Discover asks about: which `publisher/repo` folders of the models folder
hold a model, and whether there is any model at all.

Built from a library scan (warm, it reads no header: the index has them) in a worker, so the GUI thread only
looks names up and never walks a folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Discover imports this module before its first paint: only what it runs
    from app.core.settings import Settings
    from app.library.entries import LibraryEntry


@dataclass(frozen=True, slots=True)
class LibraryPresence:
    folders: frozenset[str]  # every folder above a listed model, relative to the models folder ("tiny", "tiny/x")
    any_model: bool  # the library lists a model, in any of its folders
    # Every file of every listed model, under each library folder as the settings name it (unresolved), so the GUI
    # thread can look up a download's target paths without touching the disk.
    files: frozenset[Path] = frozenset()

    def holds(self, relative: PurePosixPath) -> bool:
        """Whether a listed model lies in this folder of the models folder (or below it)."""
        return relative.as_posix() in self.folders

    def has_files(self, paths: Iterable[Path]) -> bool:
        """Whether the library lists every one of these files (paths as the settings name the folders)."""
        wanted = list(paths)
        return bool(wanted) and all(path in self.files for path in wanted)

    def with_folder(self, relative: PurePosixPath, files: Iterable[Path] = ()) -> LibraryPresence:
        """The same, with a model just arrived in `relative` (a finished download, its `files`), before a scan
        lists it."""
        added = {PurePosixPath(*relative.parts[:n]).as_posix() for n in range(1, len(relative.parts) + 1)}
        return LibraryPresence(self.folders | added, True, self.files | frozenset(files))


NOTHING_KNOWN = LibraryPresence(frozenset(), False)


def library_folders(settings: Settings) -> list[Path]:
    """The folders the library lists: the models folder, then the user's other folders."""
    values = settings.values
    return [settings.models_path(), *(Path(f).expanduser() for f in values.library_folders)]


def _resolved(folder: Path) -> Path:
    try:
        return folder.expanduser().resolve()
    except OSError:
        return folder


def presence_of(
    entries: Sequence[LibraryEntry], models_dir: Path, library: Sequence[Path] = ()
) -> LibraryPresence:
    """The presence a scan of the `library` folders gives. The scan lists resolved paths, so the folders are
    resolved too; files are named again under each folder as given."""
    root = _resolved(models_dir)
    roots = [(folder, _resolved(folder)) for folder in (library or [models_dir])]
    folders: set[str] = set()
    files: set[Path] = set()
    for entry in entries:
        for file in entry.files:
            files.update(given / file.relative_to(real) for given, real in roots if file.is_relative_to(real))
        try:
            parts = entry.path.relative_to(root).parent.parts
        except ValueError:
            continue  # in another library folder
        folders.update(PurePosixPath(*parts[:n]).as_posix() for n in range(1, len(parts) + 1))
    return LibraryPresence(frozenset(folders), bool(entries), frozenset(files))


def scan_presence(folders: Sequence[Path], models_dir: Path) -> LibraryPresence:
    """Scan the library folders (blocking: run it in a worker) and say what they hold."""
    from app.library.scan import scan_library

    return presence_of(scan_library(folders), models_dir, folders)
