"""Which byte ranges of a segmented `.part` are on disk: a small JSON sidecar, `<file>.part.ranges`.

A segmented part is preallocated to the file's full size, so its length says nothing about progress; the
sidecar does. It only ever names bytes that were written before it was saved (a writer records a range after
its bytes are in the file), and it is replaced atomically, so after a crash or SIGKILL every range it lists is
on disk and every segment resumes where the last save saw it. A part without a sidecar is a single-stream
part: its length is its contiguous prefix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.atomic import write_text_atomic
from app.downloads.checksum import Checksum
from app.downloads.layout import RANGES_SUFFIX

log = logging.getLogger("app.downloads")

FORMAT_VERSION = 1

Span = tuple[int, int]  # [start, end)


def ranges_path(part: Path) -> Path:
    return part.with_name(part.name + RANGES_SUFFIX)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-empty, non-overlapping spans; touching ones joined."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def gaps(done: Sequence[Span], size: int) -> list[Span]:
    """The spans of [0, size) that `done` (merged) does not cover."""
    out: list[Span] = []
    at = 0
    for start, end in done:
        if start > at:
            out.append((at, start))
        at = max(at, end)
    if at < size:
        out.append((at, size))
    return out


def covered(done: Sequence[Span]) -> int:
    return sum(end - start for start, end in done)


def prefix_end(done: Sequence[Span]) -> int:
    """How far the bytes from 0 are contiguous."""
    return done[0][1] if done and done[0][0] == 0 else 0


@dataclass(frozen=True, slots=True)
class RangeRecord:
    size: int
    checksum: str  # "sha256:<hex>": a record of another file's bytes is never trusted
    done: tuple[Span, ...]

    def to_json(self) -> str:
        done = [list(s) for s in self.done]
        return json.dumps({"version": FORMAT_VERSION, "size": self.size, "checksum": self.checksum, "done": done})


def save(part: Path, size: int, checksum: Checksum, done: Sequence[Span]) -> None:
    write_text_atomic(ranges_path(part), RangeRecord(size, str(checksum), tuple(done)).to_json())


def load(part: Path, size: int, checksum: Checksum) -> list[Span] | None:
    """The done spans of a segmented part, or None when there is no (usable) record for this file."""
    path = ranges_path(part)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("size") != size or data.get("checksum") != str(checksum):
            log.warning("%s belongs to another version of the file; starting over", path.name)
            return None
        spans = [(int(a), int(b)) for a, b in data["done"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s is unreadable (%s); starting over", path.name, exc)
        return None
    if any(a < 0 or b > size or a > b for a, b in spans):
        log.warning("%s lists ranges outside the file; starting over", path.name)
        return None
    return merge(spans)


def discard(part: Path) -> None:
    with contextlib.suppress(OSError):
        ranges_path(part).unlink()


def bytes_done(part: Path, size: int | None = None) -> int:
    """Bytes of the file a part holds: the sidecar's ranges when there is one, else the part's length."""
    try:
        data = json.loads(ranges_path(part).read_text(encoding="utf-8"))
        total = sum(int(b) - int(a) for a, b in merge((int(a), int(b)) for a, b in data["done"]))
    except (OSError, ValueError, KeyError, TypeError):
        try:
            total = part.stat().st_size
        except OSError:
            return 0
    return total if size is None else min(total, size)


def pieces(part: Path) -> tuple[int, list[Span]] | None:
    """(file size, done spans) from a segmented part's record, unchecked (for display); None without one."""
    try:
        data = json.loads(ranges_path(part).read_text(encoding="utf-8"))
        size = int(data["size"])
        return size, merge((max(0, int(a)), min(size, int(b))) for a, b in data["done"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def to_single_stream(part: Path) -> None:
    """Make a segmented part a single-stream one: keep its contiguous prefix, drop the rest and the sidecar."""
    path = ranges_path(part)
    if not path.exists():
        return
    keep = 0
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keep = prefix_end(merge((int(a), int(b)) for a, b in data["done"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(part, os.O_WRONLY | getattr(os, "O_BINARY", 0))
        try:
            os.ftruncate(fd, keep)
        finally:
            os.close(fd)
    discard(part)
