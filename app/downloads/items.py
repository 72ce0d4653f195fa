"""The values the download queue is made of."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.downloads.layout import target_path


class ItemState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in {ItemState.QUEUED, ItemState.RUNNING, ItemState.PAUSED}


@dataclass(frozen=True, slots=True)
class DownloadItem:
    """One queue entry: a file, or every shard of a split set, downloaded as one."""

    id: str
    repo_id: str
    filenames: tuple[str, ...]
    revision: str
    models_dir: str  # fixed when queued: changing the setting later must not split a set across folders
    state: ItemState = ItemState.QUEUED
    total_bytes: int | None = None
    commit: str | None = None
    error: str | None = None
    error_kind: str | None = None  # the AppError class name, for hints in the UI
    added_at: float = 0.0
    finished_at: float | None = None
    files_done: tuple[str, ...] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        return self.filenames[0] if len(self.filenames) == 1 else f"{self.filenames[0]} (+{len(self.filenames) - 1})"

    def targets(self) -> list[Path]:
        return [target_path(Path(self.models_dir), self.repo_id, name) for name in self.filenames]

    def with_(self, **changes: Any) -> DownloadItem:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "repo_id": self.repo_id,
            "filenames": list(self.filenames),
            "revision": self.revision,
            "models_dir": self.models_dir,
            "state": self.state.value,
            "total_bytes": self.total_bytes,
            "commit": self.commit,
            "error": self.error,
            "error_kind": self.error_kind,
            "added_at": self.added_at,
            "finished_at": self.finished_at,
            "files_done": list(self.files_done),
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> DownloadItem:
        return DownloadItem(
            id=str(data["id"]),
            repo_id=str(data["repo_id"]),
            filenames=tuple(str(n) for n in data["filenames"]),
            revision=str(data.get("revision") or "main"),
            models_dir=str(data["models_dir"]),
            state=ItemState(data.get("state", "queued")),
            total_bytes=_opt_int(data.get("total_bytes")),
            commit=data.get("commit") or None,
            error=data.get("error") or None,
            error_kind=data.get("error_kind") or None,
            added_at=float(data.get("added_at") or 0.0),
            finished_at=_opt_float(data.get("finished_at")),
            files_done=tuple(str(n) for n in data.get("files_done") or ()),
        )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class SegmentProgress:
    """One ranged connection of a segmented file (bytes [start, end) of the file being downloaded)."""

    index: int
    start: int
    end: int  # moves down when an idle connection takes over the tail
    done_bytes: int
    speed: float  # bytes per second over the last few seconds
    state: str  # waiting | active | retrying | done


@dataclass(frozen=True, slots=True)
class ItemProgress:
    item_id: str
    done_bytes: int
    total_bytes: int | None
    speed: float  # bytes per second over the last few seconds, all connections together
    eta: float | None  # seconds, None when unknown
    note: str = ""  # e.g. "retrying in 4 s: the server answered 503"
    # The file being fetched in ranged segments: every piece in file order (about 8 per connection, so a UI
    # can draw a map of the file); empty for a single stream. `connections` counts the ones being fetched.
    segments: tuple[SegmentProgress, ...] = ()

    @property
    def connections(self) -> int:
        return sum(1 for s in self.segments if s.state in ("active", "retrying"))

    @property
    def fraction(self) -> float | None:
        if not self.total_bytes:
            return None
        return min(1.0, self.done_bytes / self.total_bytes)


@dataclass(frozen=True, slots=True)
class ItemChanged:
    item: DownloadItem


@dataclass(frozen=True, slots=True)
class ItemRemoved:
    item_id: str


DownloadEvent = ItemChanged | ItemRemoved | ItemProgress
