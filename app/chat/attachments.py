"""Images and audio of chat messages in the history store (app.chat.history): one row per part, beside the
message it belongs to (deleted with it), and how exports show them.

Parts are kept as their file bytes, so a conversation reopened after a restart sends the model exactly what
it saw; exports embed them as data URLs (Markdown images, JSON objects), so an export stands alone.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from app.chat.protocol import MediaPart

TABLE = """
CREATE TABLE IF NOT EXISTS attachments (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    mime TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    data BLOB NOT NULL,
    PRIMARY KEY (message_id, position)
);
"""

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def save(db: sqlite3.Connection, message_id: int, media: Iterable[MediaPart]) -> None:
    """Stores a message's parts (inside the caller's transaction)."""
    db.executemany(
        "INSERT INTO attachments(message_id, position, kind, mime, name, data) VALUES (?, ?, ?, ?, ?, ?)",
        [(message_id, i, part.kind, part.mime, part.name, part.data) for i, part in enumerate(media)],
    )


def load(query: Query, message_ids: Sequence[int]) -> dict[int, tuple[MediaPart, ...]]:
    """The parts of these messages, in order, by message id (messages without parts are absent)."""
    if not message_ids:
        return {}
    found: dict[int, list[MediaPart]] = {}
    for start in range(0, len(message_ids), 500):  # SQLite's bound-parameter limit
        chunk = list(message_ids[start : start + 500])
        rows = query(
            f"SELECT message_id, kind, mime, name, data FROM attachments WHERE message_id IN "
            f"({', '.join('?' * len(chunk))}) ORDER BY message_id, position", chunk)
        for message_id, kind, mime, name, data in rows:
            found.setdefault(int(message_id), []).append(MediaPart(kind, bytes(data), mime, name))
    return {key: tuple(parts) for key, parts in found.items()}


def data_url(part: MediaPart) -> str:
    mime = part.mime or ("image/png" if part.kind == "image" else "audio/wav")
    return f"data:{mime};base64,{base64.b64encode(part.data).decode('ascii')}"


def markdown(media: Sequence[MediaPart]) -> list[str]:
    """Markdown lines showing the parts: images inline, audio as a link."""
    lines = []
    for i, part in enumerate(media, 1):
        label = (part.name or f"{part.kind} {i}").replace("]", ")").replace("[", "(")
        lines.append(f"![{label}]({data_url(part)})" if part.kind == "image" else f"[{label}]({data_url(part)})")
    return lines


def as_json(media: Sequence[MediaPart]) -> list[dict[str, str]]:
    return [{"kind": p.kind, "mime": p.mime, "name": p.name, "data_url": data_url(p)} for p in media]


__all__ = ["TABLE", "as_json", "data_url", "load", "markdown", "save"]
