"""Free-space checks before a transfer, and telling a full disk apart from other write errors."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from app.core.errors import DiskFullError
from app.core.units import format_bytes

DEFAULT_MARGIN = 64 * 1024 * 1024


def free_bytes(directory: Path) -> int:
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def ensure_free_space(directory: Path, needed: int, margin: int = DEFAULT_MARGIN) -> None:
    free = free_bytes(directory)
    if needed + margin > free:
        raise DiskFullError(
            f"Not enough free space in {directory}: {format_bytes(needed)} needed, {format_bytes(free)} free",
            hint="free some space or choose another models folder in Settings",
        )


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in {errno.ENOSPC, errno.EDQUOT}


def disk_full_error(path: Path) -> DiskFullError:
    return DiskFullError(
        f"The disk filled up while writing {path.name.removesuffix('.part')}; the part already downloaded is kept",
        hint="free some space, then press Retry to resume",
    )
