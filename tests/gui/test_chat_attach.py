"""Images on the Chat page: a vision model loads with the projector beside it, images are attached by button
(file), paste and drag-and-drop, shown as thumbnails, answered by the real engine, and kept in the history."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel

from app.chat import protocol as p
from app.ui.pages.chat import ChatPage
from app.ui.pages.chat_attach import part_from_file
from tests.support.shots import save_shot
from tests.support.tiny_vision import VisionGGUFs, image_bytes, vision_library

SETTINGS = p.EngineSettings(n_ctx=512, n_threads=2, n_batch=128)


@pytest.fixture(scope="module")
def vision_model(tmp_path_factory: pytest.TempPathFactory, llama_cpp_sources: Path) -> VisionGGUFs:
    return vision_library(tmp_path_factory.mktemp("vision"), llama_cpp_sources)


def paste_image(page: ChatPage, color: Qt.GlobalColor) -> None:
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(color)
    QGuiApplication.clipboard().setImage(image)
    paste = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier, "v")
    assert paste.matches(QKeySequence.StandardKey.Paste)
    QApplication.sendEvent(page.input, paste)


def drop_file(page: ChatPage, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    how = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(5, 5), *how)  # Qt delivers a drop only after the drag entered
    assert QApplication.sendEvent(page.input.viewport(), enter) and enter.isAccepted()
    QApplication.sendEvent(page.input.viewport(), QDropEvent(QPointF(5, 5), *how))


def test_attach_paste_drop_and_send_an_image(chat_page: ChatPage, vision_model: VisionGGUFs, qtbot,
                                             tmp_path: Path) -> None:
    page = chat_page
    panel = page.load_panel
    panel.add_model_path(str(vision_model.text))
    qtbot.waitUntil(lambda: panel.model is not None, timeout=20_000)
    assert panel.images.isChecked() and not panel.images.isHidden()  # the projector beside it, chosen
    assert panel.settings().mmproj == str(vision_model.mmproj)
    assert "projector" in panel.verdict.text()  # counted in the memory estimate
    panel.images.setChecked(False)
    assert panel.settings().mmproj == "" and "projector" not in panel.verdict.text()
    panel.images.setChecked(True)
    save_shot(panel, "chat-load-with-images")
    settings = dataclasses.replace(SETTINGS, mmproj=panel.settings().mmproj)
    with qtbot.waitSignal(page.modelLoaded, timeout=60_000) as loaded:
        page.load_model(str(vision_model.text), settings)
    info: p.ModelInfo = loaded.args[0]
    assert info.vision

    photo = tmp_path / "red.png"
    photo.write_bytes(image_bytes())
    page.attachments.add_files([photo])
    paste_image(page, Qt.GlobalColor.blue)
    drop_file(page, photo)
    qtbot.waitUntil(lambda: not page.attachments.reading, timeout=10_000)  # files are read in a worker
    assert [part.kind for part in page.attachments.parts()] == ["image"] * 3
    assert page.attachments.isVisible()
    page.attachments.remove(2)
    assert len(page.attachments.parts()) == 2

    page.input.setPlainText("What colours are these?")
    with qtbot.waitSignal(page.replyFinished, timeout=60_000) as finished:
        page.send_button.click()
    done: p.Done = finished.args[0]
    assert done.stats.media_tokens == 8  # two images of four tokens each
    assert page.attachments.parts() == () and not page.attachments.isVisible()
    assert page.conversation is not None
    question = page.history.messages(page.conversation.id)[0]
    assert [part.name for part in question.media] == ["red.png", "pasted image.png"]
    strip = page.messages.widgets[0].findChildren(QLabel)
    assert sum(1 for label in strip if not label.pixmap().isNull()) == 2  # the thumbnails under the message
    page.attachments.add_files([photo])  # a next message's attachment, waiting in the tray
    qtbot.waitUntil(lambda: not page.attachments.reading, timeout=10_000)
    QApplication.processEvents()
    page.messages.verticalScrollBar().setValue(0)
    QApplication.processEvents()
    save_shot(page, "chat-attach")


def test_a_file_that_is_not_media_is_refused_with_a_sentence(chat_page: ChatPage, qtbot, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert isinstance(part_from_file(notes), str)
    with qtbot.waitSignal(chat_page.attachments.failed) as failed:
        chat_page.attachments.add_files([notes])
    assert "not an image" in failed.args[0]
    assert chat_page.attachments.parts() == ()
    assert chat_page.banner.isVisible()
