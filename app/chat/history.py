"""Conversations and messages in SQLite (WAL) in the data dir.

A streaming reply is one message row updated as it grows (`ReplyWriter` writes at most once a second and
at the end), so killing the app or the engine loses at most the last second of a reply.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from app.chat import attachments
from app.chat.protocol import MediaPart
from app.core import paths
from app.core.errors import HistoryError

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    model_path TEXT NOT NULL DEFAULT '',
    system_prompt TEXT NOT NULL DEFAULT '',
    settings_json TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    stats_json TEXT NOT NULL DEFAULT '',
    complete INTEGER NOT NULL DEFAULT 1,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id);
""" + attachments.TABLE
# Columns added after the first release, created on open when a history file lacks them.
ADDED_COLUMNS = {
    "messages": (
        ("alternatives_json", "TEXT NOT NULL DEFAULT ''"),  # the other versions of a regenerated reply
        ("variant", "INTEGER NOT NULL DEFAULT 0"),  # this version's place among all of them
    ),
}
SAVE_INTERVAL_S = 1.0
MESSAGE_COLUMNS = "id, conversation_id, role, content, stats_json, complete, created, alternatives_json, variant"


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    title: str
    model_path: str
    system_prompt: str
    settings: dict[str, Any]
    created: float
    updated: float


@dataclass(frozen=True, slots=True)
class Version:
    """One answer of a reply that was regenerated."""

    content: str
    stats: dict[str, Any] | None = None
    complete: bool = True


@dataclass(frozen=True, slots=True)
class Message:
    """`content`, `stats` and `complete` are the version shown (and sent to the model); `alternatives` the
    others, in order, with this one at position `variant` among them all."""

    id: int
    conversation_id: int
    role: str
    content: str
    stats: dict[str, Any] | None
    complete: bool
    created: float
    alternatives: tuple[Version, ...] = ()
    variant: int = 0
    media: tuple[MediaPart, ...] = ()  # images and audio sent with the message (app.chat.attachments)

    @property
    def versions(self) -> tuple[Version, ...]:
        shown = Version(self.content, self.stats, self.complete)
        return (*self.alternatives[: self.variant], shown, *self.alternatives[self.variant :])


def default_path() -> Path:
    return paths.data_dir() / "chats.sqlite3"


class History:
    """Thread-safe (one connection, one lock); every call is a short transaction."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
            self._add_columns()
        except sqlite3.Error as exc:
            raise HistoryError(f"The chat history at {self.path} cannot be opened: {exc}") from exc

    def _add_columns(self) -> None:
        for table, columns in ADDED_COLUMNS.items():
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, declaration in columns:
                if name not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise HistoryError(f"The chat history could not be saved: {exc}") from exc
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, args).fetchall())
            except sqlite3.Error as exc:
                raise HistoryError(f"The chat history could not be read: {exc}") from exc

    # ------------------------------------------------------------------ conversations

    def create(self, title: str = "New chat", *, model_path: str = "", system_prompt: str = "",
               settings: dict[str, Any] | None = None) -> Conversation:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO conversations(title, model_path, system_prompt, settings_json, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (title, model_path, system_prompt, json.dumps(settings or {}), now, now),
            )
            conversation_id = int(cur.lastrowid or 0)
        return self.conversation(conversation_id)

    def conversation(self, conversation_id: int) -> Conversation:
        rows = self._query(
            "SELECT id, title, model_path, system_prompt, settings_json, created, updated"
            " FROM conversations WHERE id = ?", (conversation_id,))
        if not rows:
            raise HistoryError(f"Conversation {conversation_id} does not exist")
        return _conversation(rows[0])

    def conversations(self, search: str = "") -> list[Conversation]:
        """Newest first; `search` matches titles and message text (case-insensitive)."""
        sql = "SELECT id, title, model_path, system_prompt, settings_json, created, updated FROM conversations"
        args: list[Any] = []
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql += (" WHERE title LIKE ? ESCAPE '\\' OR id IN"
                    " (SELECT conversation_id FROM messages WHERE content LIKE ? ESCAPE '\\')")
            args = [pattern, pattern]
        sql += " ORDER BY updated DESC, id DESC"
        return [_conversation(row) for row in self._query(sql, args)]

    def update(self, conversation_id: int, **fields: Any) -> Conversation:
        """Changes title, model_path, system_prompt and/or settings."""
        columns = {"title": "title", "model_path": "model_path", "system_prompt": "system_prompt",
                   "settings": "settings_json"}
        unknown = set(fields) - set(columns)
        if unknown:
            raise TypeError(f"unknown conversation fields: {sorted(unknown)}")
        sets = ", ".join(f"{columns[k]} = ?" for k in fields)
        values = [json.dumps(v) if k == "settings" else v for k, v in fields.items()]
        with self._tx() as db:
            db.execute(f"UPDATE conversations SET {sets}, updated = ? WHERE id = ?",
                       [*values, time.time(), conversation_id])
        return self.conversation(conversation_id)

    def rename(self, conversation_id: int, title: str) -> Conversation:
        return self.update(conversation_id, title=title.strip() or "Untitled")

    def delete(self, conversation_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # ------------------------------------------------------------------ messages

    def messages(self, conversation_id: int) -> list[Message]:
        rows = self._query(
            f"SELECT {MESSAGE_COLUMNS} FROM messages"
            " WHERE conversation_id = ? ORDER BY id", (conversation_id,))
        return _with_media(self._query, [_message(row) for row in rows])

    def add_message(self, conversation_id: int, role: str, content: str, *,
                    stats: dict[str, Any] | None = None, complete: bool = True,
                    alternatives: Sequence[Version] = (), media: Sequence[MediaPart] = ()) -> Message:
        """`alternatives`: earlier versions of this reply (a regenerated answer comes after them)."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO messages(conversation_id, role, content, stats_json, complete, created,"
                " alternatives_json, variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, json.dumps(stats) if stats else "", int(complete), now,
                 _versions_json(alternatives), len(alternatives)))
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
            message_id = int(cur.lastrowid or 0)
            attachments.save(db, message_id, media)
        return self.message(message_id)

    def message(self, message_id: int) -> Message:
        rows = self._query(
            f"SELECT {MESSAGE_COLUMNS} FROM messages"
            " WHERE id = ?", (message_id,))
        if not rows:
            raise HistoryError(f"Message {message_id} does not exist")
        return _with_media(self._query, [_message(rows[0])])[0]

    def update_message(self, message_id: int, content: str, *, stats: dict[str, Any] | None = None,
                       complete: bool | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE messages SET content = ? WHERE id = ?", (content, message_id))
            if stats is not None:
                db.execute("UPDATE messages SET stats_json = ? WHERE id = ?", (json.dumps(stats), message_id))
            if complete is not None:
                db.execute("UPDATE messages SET complete = ? WHERE id = ?", (int(complete), message_id))

    def show_version(self, message_id: int, index: int) -> Message:
        """Makes version `index` of a regenerated reply the one shown and sent to the model."""
        versions = self.message(message_id).versions
        if not 0 <= index < len(versions):
            raise HistoryError(f"Message {message_id} has no version {index + 1}")
        self._set_versions(message_id, versions, index)
        return self.message(message_id)

    def drop_version(self, message_id: int) -> None:
        """Removes the version shown (a regenerated reply that failed empty): the one before it comes back;
        a reply with no other version goes with everything after it."""
        message = self.message(message_id)
        if not message.alternatives:
            self.delete_from(message.conversation_id, message_id)
            return
        versions = list(message.versions)
        del versions[message.variant]
        self._set_versions(message_id, versions, max(0, message.variant - 1))

    def _set_versions(self, message_id: int, versions: Sequence[Version], index: int) -> None:
        shown = versions[index]
        others = [*versions[:index], *versions[index + 1 :]]
        with self._tx() as db:
            db.execute(
                "UPDATE messages SET content = ?, stats_json = ?, complete = ?, alternatives_json = ?, variant = ?"
                " WHERE id = ?",
                (shown.content, json.dumps(shown.stats) if shown.stats else "", int(shown.complete),
                 _versions_json(others), index, message_id))

    def delete_from(self, conversation_id: int, message_id: int) -> None:
        """Removes a message and everything after it (regenerate, edit and resend)."""
        with self._tx() as db:
            db.execute("DELETE FROM messages WHERE conversation_id = ? AND id >= ?", (conversation_id, message_id))
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (time.time(), conversation_id))

    # ------------------------------------------------------------------ export

    def export_markdown(self, conversation_id: int) -> str:
        conversation = self.conversation(conversation_id)
        lines = [f"# {conversation.title}", ""]
        if conversation.model_path:
            lines += [f"Model: `{Path(conversation.model_path).name}`", ""]
        if conversation.system_prompt:
            lines += ["## System", "", conversation.system_prompt, ""]
        for message in self.messages(conversation_id):
            lines += [f"## {message.role.capitalize()}", "", message.content, ""]
            if message.media:
                lines += [*attachments.markdown(message.media), ""]
        return "\n".join(lines)

    def export_json(self, conversation_id: int) -> str:
        conversation = self.conversation(conversation_id)
        data = {
            "conversation": asdict(conversation),
            "messages": [
                {"role": m.role, "content": m.content, "stats": m.stats, "complete": m.complete,
                 "created": m.created, **({"media": attachments.as_json(m.media)} if m.media else {}),
                 **({"alternatives": [asdict(v) for v in m.alternatives]} if m.alternatives else {})}
                for m in self.messages(conversation_id)
            ],
        }
        return json.dumps(data, ensure_ascii=False, indent=2)


class ReplyWriter:
    """Saves a streaming reply: the row exists from the first token and is rewritten at most once a second."""

    def __init__(self, history: History, conversation_id: int, *, interval: float = SAVE_INTERVAL_S,
                 alternatives: Sequence[Version] = ()) -> None:
        self._history = history
        self._interval = interval
        self._parts: list[str] = []
        self._saved_at = time.monotonic()
        self.message = history.add_message(conversation_id, "assistant", "", complete=False,
                                           alternatives=alternatives)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def append(self, text: str) -> None:
        self._parts.append(text)
        now = time.monotonic()
        if now - self._saved_at >= self._interval:
            self._saved_at = now
            self._history.update_message(self.message.id, self.text)

    def finish(self, stats: dict[str, Any] | None = None, *, text: str | None = None) -> None:
        if text is not None:
            self._parts = [text]
        self._history.update_message(self.message.id, self.text, stats=stats, complete=True)

    def abandon(self) -> None:
        """The engine died: keep what arrived, marked incomplete."""
        self._history.update_message(self.message.id, self.text, complete=False)


def _conversation(row: tuple[Any, ...]) -> Conversation:
    return Conversation(row[0], row[1], row[2], row[3], json.loads(row[4] or "{}"), row[5], row[6])


def _versions_json(versions: Sequence[Version]) -> str:
    return json.dumps([asdict(v) for v in versions]) if versions else ""


def _version(raw: Any) -> Version:
    if not isinstance(raw, dict):
        return Version(str(raw))
    stats = raw.get("stats")
    return Version(str(raw.get("content", "")), stats if isinstance(stats, dict) else None,
                   bool(raw.get("complete", True)))


def _with_media(query: attachments.Query, messages: list[Message]) -> list[Message]:
    media = attachments.load(query, [m.id for m in messages])
    return [replace(m, media=media[m.id]) if m.id in media else m for m in messages]


def _message(row: tuple[Any, ...]) -> Message:
    alternatives = tuple(_version(v) for v in json.loads(row[7])) if row[7] else ()
    variant = max(0, min(int(row[8] or 0), len(alternatives)))
    return Message(row[0], row[1], row[2], row[3], json.loads(row[4]) if row[4] else None, bool(row[5]), row[6],
                   alternatives, variant)
