from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.chat.history import History, ReplyWriter
from app.core.atomic import write_text_atomic
from app.core.errors import HistoryError


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "chats.sqlite3")


def test_default_location_is_the_data_dir(isolated_home: Path) -> None:
    store = History()
    assert store.path.parent == isolated_home / "data"
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_conversation_round_trip(history: History) -> None:
    conv = history.create("First", model_path="/m/a.gguf", system_prompt="Be nice", settings={"temp": 0.5})
    history.add_message(conv.id, "user", "Hello")
    history.add_message(conv.id, "assistant", "Hi there", stats={"tokens": 3})
    again = history.conversation(conv.id)
    assert (again.title, again.model_path, again.system_prompt, again.settings) == (
        "First", "/m/a.gguf", "Be nice", {"temp": 0.5})
    messages = history.messages(conv.id)
    assert [(m.role, m.content) for m in messages] == [("user", "Hello"), ("assistant", "Hi there")]
    assert messages[1].stats == {"tokens": 3}


def test_rename_delete_and_order(history: History) -> None:
    a = history.create("Alpha")
    b = history.create("Beta")
    history.add_message(a.id, "user", "bump")  # a becomes the most recent
    assert [c.id for c in history.conversations()] == [a.id, b.id]
    history.rename(b.id, "  Gamma ")
    assert history.conversation(b.id).title == "Gamma"
    history.delete(a.id)
    assert [c.title for c in history.conversations()] == ["Gamma"]
    assert history.messages(a.id) == []
    with pytest.raises(HistoryError):
        history.conversation(a.id)


def test_search_titles_and_content(history: History) -> None:
    a = history.create("Rust questions")
    b = history.create("Cooking")
    history.add_message(b.id, "user", "How long to boil an egg? 100% sure_")
    assert [c.id for c in history.conversations("rust")] == [a.id]
    assert [c.id for c in history.conversations("EGG")] == [b.id]
    assert [c.id for c in history.conversations("100%")] == [b.id]
    assert history.conversations("1000%") == []
    assert history.conversations("_s") == []


def test_delete_from_supports_regenerate(history: History) -> None:
    conv = history.create()
    u1 = history.add_message(conv.id, "user", "q1")
    history.add_message(conv.id, "assistant", "a1")
    u2 = history.add_message(conv.id, "user", "q2")
    history.add_message(conv.id, "assistant", "a2")
    history.delete_from(conv.id, u2.id)
    assert [m.content for m in history.messages(conv.id)] == ["q1", "a1"]
    history.delete_from(conv.id, u1.id)
    assert history.messages(conv.id) == []


def test_reply_writer_saves_at_most_every_interval(history: History) -> None:
    conv = history.create()
    writer = ReplyWriter(history, conv.id, interval=3600)
    writer.append("Hel")
    writer.append("lo")
    stored = history.message(writer.message.id)
    assert stored.content == "" and not stored.complete  # not yet due
    writer.finish({"tokens": 2})
    stored = history.message(writer.message.id)
    assert stored.content == "Hello" and stored.complete and stored.stats == {"tokens": 2}


def test_reply_writer_saves_as_it_grows(history: History) -> None:
    conv = history.create()
    writer = ReplyWriter(history, conv.id, interval=0)
    writer.append("partial ")
    writer.append("reply")
    # Another connection (as after a crash) sees what was streamed so far.
    other = History(history.path)
    assert other.message(writer.message.id).content == "partial reply"
    writer.abandon()
    assert not other.message(writer.message.id).complete


def test_exports(history: History, tmp_path: Path) -> None:
    conv = history.create("Export me", model_path="/x/model.gguf", system_prompt="Sys")
    history.add_message(conv.id, "user", "Question?")
    history.add_message(conv.id, "assistant", "```py\nprint(1)\n```")
    markdown = history.export_markdown(conv.id)
    assert markdown.startswith("# Export me\n")
    assert "## System\n\nSys" in markdown and "## User\n\nQuestion?" in markdown
    assert "```py\nprint(1)\n```" in markdown
    data = json.loads(history.export_json(conv.id))
    assert data["conversation"]["title"] == "Export me"
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    target = tmp_path / "out.md"
    write_text_atomic(target, markdown)
    assert target.read_text() == markdown and not (tmp_path / "out.md.part").exists()


def test_unknown_update_field(history: History) -> None:
    conv = history.create()
    with pytest.raises(TypeError):
        history.update(conv.id, colour="red")
    assert history.update(conv.id, settings={"a": 1}).settings == {"a": 1}


def test_a_regenerated_reply_keeps_its_earlier_answers(history: History) -> None:
    conv = history.create("Versions")
    history.add_message(conv.id, "user", "Name a colour.")
    first = history.add_message(conv.id, "assistant", "Blue.", stats={"tokens": 2})
    history.delete_from(conv.id, first.id)
    writer = ReplyWriter(history, conv.id, alternatives=first.versions)
    writer.append("Green.")
    writer.finish({"tokens": 3})
    reply = history.messages(conv.id)[-1]
    assert [v.content for v in reply.versions] == ["Blue.", "Green."] and reply.variant == 1
    shown = history.show_version(reply.id, 0)
    assert shown.content == "Blue." and shown.stats == {"tokens": 2} and shown.variant == 0
    assert [v.content for v in shown.versions] == ["Blue.", "Green."]
    assert json.loads(history.export_json(conv.id))["messages"][-1]["alternatives"][0]["content"] == "Green."
    with pytest.raises(HistoryError):
        history.show_version(reply.id, 2)
    # A third answer that failed empty goes; the one before it is shown again.
    versions = history.show_version(reply.id, 1).versions
    history.delete_from(conv.id, reply.id)
    failed = ReplyWriter(history, conv.id, alternatives=versions)
    history.drop_version(failed.message.id)
    back = history.message(failed.message.id)
    assert back.content == "Green." and [v.content for v in back.versions] == ["Blue.", "Green."]
    # Without earlier answers, dropping removes the row.
    lone = ReplyWriter(history, conv.id)
    history.drop_version(lone.message.id)
    assert [m.id for m in history.messages(conv.id)][-1] == failed.message.id


def test_an_old_history_file_gains_the_version_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE conversations (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,"
        " model_path TEXT NOT NULL DEFAULT '', system_prompt TEXT NOT NULL DEFAULT '',"
        " settings_json TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL, updated REAL NOT NULL);"
        "CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id INTEGER NOT NULL,"
        " role TEXT NOT NULL, content TEXT NOT NULL, stats_json TEXT NOT NULL DEFAULT '',"
        " complete INTEGER NOT NULL DEFAULT 1, created REAL NOT NULL);"
        "INSERT INTO conversations VALUES (1, 'Old', '', '', '{}', 0, 0);"
        "INSERT INTO messages VALUES (1, 1, 'assistant', 'Kept', '', 1, 0);")
    db.close()
    message = History(path).messages(1)[0]
    assert message.content == "Kept" and message.versions[0].content == "Kept" and message.alternatives == ()
