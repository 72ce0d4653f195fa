"""Where a download lands when the models folder changed while it was queued or running.

An item's folder is fixed while any of its bytes are on disk (a split set never ends up in two folders), so a
transfer that is running, or paused with a part, finishes in the folder it began in. One that has nothing on
disk yet simply follows the new setting. A finished item whose folder the Library no longer lists (the user
moved the models to the new folder) is moved after them, as the Settings question promised; where the old
folder was kept in the Library it stays where it landed and is listed from there.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from app.core.atomic import fsync_dir, temp_name
from app.downloads.layout import part_path

log = logging.getLogger("app.downloads")


def nothing_on_disk(targets: Sequence[Path]) -> bool:
    """No file of the item and no part of one exists yet: it may still change folders."""
    return not any(path.exists() or part_path(path).exists() for path in targets)


def listed(folder: Path, library: Sequence[Path]) -> bool:
    """Whether the Library scans `folder` (it is one of its folders or inside one)."""
    where = _resolved(folder)
    return any(where == _resolved(root) or where.is_relative_to(_resolved(root)) for root in library)


def move_finished(sources: Sequence[Path], dests: Sequence[Path]) -> bool:
    """Move an item's finished files to `dests`; all or none (a name already taken there keeps them all
    where they are). True when they moved."""
    if any(dest.exists() or dest.is_symlink() for dest in dests):
        log.warning("not moving %s: a file of that name is already in the new models folder", sources[0].name)
        return False
    moved: list[tuple[Path, Path]] = []
    try:
        for source, dest in zip(sources, dests, strict=True):
            _move(source, dest)
            moved.append((source, dest))
    except OSError as exc:
        log.warning("could not move %s to the new models folder: %s", sources[0].name, exc)
        for source, dest in reversed(moved):  # put back what moved: the set stays together
            with contextlib.suppress(OSError):
                _move(dest, source)
        return False
    for source in sources:
        _prune_empty(source.parent)
    return True


def _move(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        _take_name(source, dest)  # same disk: instant
    except FileExistsError:
        raise
    except OSError:
        # another disk: a copy under a temporary name, on disk before it takes the model's name
        temporary = temp_name(dest)
        try:
            shutil.copyfile(source, temporary)
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
            _take_name(temporary, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        source.unlink()
    with contextlib.suppress(OSError):
        fsync_dir(dest.parent)


def _take_name(source: Path, dest: Path) -> None:
    """Gives `source` the name `dest`, never over a file another app instance put there meanwhile (a hard
    link fails where the name exists; a rename would replace it). Without hard links (FAT), a rename."""
    try:
        os.link(source, dest)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        os.rename(source, dest)
        return
    source.unlink()


def _prune_empty(folder: Path) -> None:
    """Remove the repository folder the files left, and its publisher folder, when nothing else is there."""
    for path in (folder, folder.parent):
        try:
            path.rmdir()
        except OSError:
            return


def _resolved(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except OSError:
        return path.expanduser().absolute()
