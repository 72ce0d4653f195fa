"""The Chat page reads attached files in a worker, never on the GUI thread: a file that takes its time (a named
pipe whose writer waits until the GUI thread is free again) keeps the page responsive, what is attached keeps its
order, a message sent meanwhile waits for it, and a file that cannot be attached says why."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from app.chat.media import MAX_BYTES
from app.ui.pages.chat import ChatPage
from app.ui.pages.chat_attach import part_from_image
from tests.support.tiny_vision import image_bytes

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")


def slow_file(path: Path, free: threading.Event, answered: list[bool]) -> threading.Thread:
    """A named pipe that delivers a PNG once `free` is set (or after 10 s); `answered` says which came first."""
    os.mkfifo(path)

    def write() -> None:
        answered.append(free.wait(timeout=10))
        with path.open("wb") as pipe:
            pipe.write(image_bytes())

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return writer


def test_a_slow_file_is_read_off_the_gui_thread_in_its_turn(chat_page: ChatPage, qtbot: Any, tmp_path: Path) -> None:
    tray = chat_page.attachments
    free, answered = threading.Event(), list[bool]()
    writer = slow_file(tmp_path / "slow.png", free, answered)
    tray.add_files([tmp_path / "slow.png"])  # on the GUI thread, this would wait for the writer, which waits for us
    assert tray.reading and tray.isVisible()  # the tray says it is reading
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.blue)
    tray.add(part_from_image(image))  # pasted while the file is read: it comes after it
    assert tray.parts() == ()
    free.set()
    qtbot.waitUntil(lambda: not tray.reading, timeout=20_000)
    writer.join(timeout=10)
    assert answered == [True]  # the GUI thread was free before the file had any bytes
    assert [part.name for part in tray.parts()] == ["slow.png", "pasted image.png"]
    assert tray.parts()[0].data == image_bytes()


def test_a_message_sent_while_a_file_is_read_waits_for_it(chat_page: ChatPage, qtbot: Any, tmp_path: Path) -> None:
    """Without a model the send asks for one; it does so only once the file is in (so nothing is sent without it)."""
    tray = chat_page.attachments
    free, answered = threading.Event(), list[bool]()
    slow_file(tmp_path / "slow.png", free, answered)
    tray.add_files([tmp_path / "slow.png"])
    chat_page.input.setPlainText("What is this?")
    chat_page.send()
    assert not chat_page.banner.isVisible()  # not yet answered "load a model first": the send waits
    free.set()
    qtbot.waitUntil(lambda: chat_page.banner.isVisible(), timeout=10_000)
    assert "Load a model first" in chat_page.banner.label.text()
    assert len(tray.parts()) == 1  # kept for the send once a model is loaded


def test_files_that_cannot_be_attached_say_why(chat_page: ChatPage, qtbot: Any, tmp_path: Path) -> None:
    tray = chat_page.attachments
    big = tmp_path / "huge.png"
    with big.open("wb") as file:
        file.truncate(MAX_BYTES + 1)  # sparse: costs no disk
    folder = tmp_path / "photos.png"
    folder.mkdir()
    messages: list[str] = []
    tray.failed.connect(messages.append)
    tray.add_files([big, folder, tmp_path / "gone.png"])
    qtbot.waitUntil(lambda: len(messages) == 3, timeout=10_000)
    assert "huge.png is" in messages[0] and "attachments may be" in messages[0]
    assert messages[1].startswith("photos.png cannot be read")
    assert messages[2].startswith("gone.png cannot be read")
    assert tray.parts() == () and not tray.reading and not tray.isVisible()
    assert chat_page.banner.isVisible()


def test_clearing_the_tray_drops_a_file_still_being_read(chat_page: ChatPage, qtbot: Any, tmp_path: Path) -> None:
    tray = chat_page.attachments
    free, answered = threading.Event(), list[bool]()
    writer = slow_file(tmp_path / "slow.png", free, answered)
    tray.add_files([tmp_path / "slow.png"])
    tray.clear()
    assert not tray.reading and not tray.isVisible()
    free.set()
    writer.join(timeout=10)
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    tray.add(part_from_image(image))  # added at once: nothing is waiting before it
    assert [part.name for part in tray.parts()] == ["pasted image.png"]
    QThreadPool.globalInstance().waitForDone()  # the dropped read ends
    QApplication.processEvents()  # and its result arrives, to be dropped
    assert [part.name for part in tray.parts()] == ["pasted image.png"]
