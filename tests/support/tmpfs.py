"""A real small file system for disk-full tests: a tmpfs of a given size (needs root and mount).

Tests skip with the reason when mounting is impossible (not root, no mount permission in a container).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    mount_point.mkdir(parents=True, exist_ok=True)
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root on a POSIX system")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path, leave: int = 0, name: str = "filler.bin") -> Path:
    """Write a file that takes all free space in `directory`'s file system but about `leave` bytes."""
    filler = directory / name
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                room = shutil.disk_usage(directory).free - leave
                if room <= 0:
                    break
                handle.write(chunk[: min(len(chunk), room)])
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler
