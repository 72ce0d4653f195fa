"""Images and audio saved with a conversation: they survive a restart, go with their message, and exports
carry them."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

from app.chat.history import History
from app.chat.protocol import MediaPart
from tests.support.tiny_vision import image_bytes

PHOTO = MediaPart("image", image_bytes(), "image/png", "photo.png")
CLIP = MediaPart("audio", b"RIFF\0\0\0\0WAVEfmt ", "audio/wav", "hello.wav")


def test_a_conversation_with_images_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    history = History(path)
    chat = history.create("Vision")
    asked = history.add_message(chat.id, "user", "What is this?", media=(PHOTO, CLIP))
    history.add_message(chat.id, "assistant", "A red rectangle.")
    assert asked.media == (PHOTO, CLIP)
    history.close()

    reopened = History(path)
    question, answer = reopened.messages(chat.id)
    assert question.media == (PHOTO, CLIP)
    assert answer.media == ()
    assert reopened.message(question.id).media == (PHOTO, CLIP)
    reopened.close()


def test_attachments_go_with_their_message(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    history = History(path)
    chat = history.create("Vision")
    first = history.add_message(chat.id, "user", "one", media=(PHOTO,))
    history.add_message(chat.id, "user", "two", media=(PHOTO,))
    history.delete_from(chat.id, first.id)
    history.delete(chat.id)
    history.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM attachments").fetchone() == (0,)


def test_exports_carry_the_images(tmp_path: Path) -> None:
    history = History(tmp_path / "chats.sqlite3")
    chat = history.create("Vision")
    history.add_message(chat.id, "user", "What is this?", media=(PHOTO,))
    history.add_message(chat.id, "assistant", "A red rectangle.")
    text = history.export_markdown(chat.id)
    encoded = base64.b64encode(PHOTO.data).decode()
    assert f"![photo.png](data:image/png;base64,{encoded})" in text
    data = json.loads(history.export_json(chat.id))
    (media,) = data["messages"][0]["media"]
    assert media["kind"] == "image" and media["name"] == "photo.png"
    assert base64.b64decode(media["data_url"].split(",", 1)[1]) == PHOTO.data
    assert "media" not in data["messages"][1]
    history.close()
