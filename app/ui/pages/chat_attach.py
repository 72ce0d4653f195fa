"""Images and audio for the Chat page: attach by button, paste or drag-and-drop; thumbnails before sending and
in the sent message. The files' bytes become MediaParts (app.chat.protocol) as they are; the engine checks them
(app.chat.media) and a damaged one comes back as a clear error.

Files are read in a worker (up to MAX_BYTES each, maybe from a slow disk or a network share), never on the GUI
thread; the tray keeps the order in which things were attached while a read is under way."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import shiboken6
from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QObject, QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QIcon, QImage, QKeyEvent, QKeySequence, QPixmap
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QToolButton, QWidget

from app.chat.media import MAX_BYTES, sniff
from app.chat.protocol import MediaPart
from app.ui.tasks import Task, TaskControl, run_task

THUMB = 64
FILE_FILTER = "Images and audio (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.wav *.mp3 *.flac);;All files (*)"
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
         ".gif": "image/gif", ".bmp": "image/bmp", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac"}


def part_from_file(path: Path) -> MediaPart | str:
    """The file as a part, or why it cannot be one."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return f"{path.name} is {size / 2**20:.0f} MiB; attachments may be {MAX_BYTES // 2**20} MiB"
        data = path.read_bytes()
    except OSError as exc:
        return f"{path.name} cannot be read: {exc.strerror or exc}"
    kind = sniff(data)
    if kind is None:
        return f"{path.name} is not an image (PNG, JPEG, WebP) or a sound file (WAV, MP3, FLAC)"
    return MediaPart(kind, data, _MIME.get(path.suffix.lower(), ""), path.name)


def parts_from_files(control: TaskControl, paths: Sequence[Path]) -> list[MediaPart | str]:
    """Each file as a part, or why it cannot be one (blocking: a worker runs it)."""
    results: list[MediaPart | str] = []
    for path in paths:
        control.raise_if_cancelled()
        results.append(part_from_file(path))
    return results


@dataclass(slots=True, eq=False)  # each attach is itself: found in the queue by identity
class _Slot:
    """What one attach (a dialog's files, a drop, a paste) adds, in its turn; `results` is None while read."""

    results: list[MediaPart | str] | None = None
    task: Task | None = None


def part_from_image(image: QImage, name: str = "pasted image.png") -> MediaPart:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # PySide6 takes str at run time
    buffer.close()
    return MediaPart("image", bytes(data.data()), "image/png", name)


def thumbnail(part: MediaPart, size: int = THUMB) -> QPixmap | None:
    if part.kind != "image":
        return None
    pixmap = QPixmap()
    if not pixmap.loadFromData(part.data):
        return None
    return pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def media_strip(media: Sequence[MediaPart], parent: QWidget | None = None) -> QWidget:
    """Thumbnails of a sent message's parts (audio: its name)."""
    strip = QWidget(parent)
    strip.setObjectName("message-media")
    row = QHBoxLayout(strip)
    row.setContentsMargins(0, 0, 0, 0)
    for part in media:
        label = QLabel(strip)
        pixmap = thumbnail(part, THUMB * 2)
        if pixmap is not None:
            label.setPixmap(pixmap)
        else:
            label.setText(f"♪ {part.name or part.kind}")
        label.setToolTip(part.name or part.kind)
        row.addWidget(label)
    row.addStretch(1)
    return strip


def show_media(message: QWidget, media: Sequence[MediaPart]) -> None:
    """Adds the thumbnails of a sent message's parts under its text."""
    layout = message.layout()
    if layout is not None:
        layout.addWidget(media_strip(media, message))


class AttachmentTray(QWidget):
    """The parts attached to the message being written. Watches `editor` for pasted images and dropped files;
    `attach_button` opens a file dialog. `failed` carries a sentence for the page's error banner. `reading` is
    true while files are being read; `when_ready` runs a callback once they are in."""

    changed = Signal()
    failed = Signal(str)

    def __init__(self, editor: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._parts: list[MediaPart] = []
        self._slots: deque[_Slot] = deque()  # attaches waiting for a read, in the order they were made
        self._when_ready: list[Callable[[], None]] = []
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.addStretch(1)
        self.attach_button = QToolButton(parent)
        self.attach_button.setText("Attach…")
        self.attach_button.setToolTip("Attach images or audio (or paste or drop them into the message)")
        self.attach_button.clicked.connect(self.choose_files)
        self._editor = editor
        editor.setAcceptDrops(True)
        editor.installEventFilter(self)
        viewport = getattr(editor, "viewport", None)
        if callable(viewport):  # text edits receive drops on their viewport
            viewport().setAcceptDrops(True)
            viewport().installEventFilter(self)
        self.setVisible(False)

    def parts(self) -> tuple[MediaPart, ...]:
        return tuple(self._parts)

    @property
    def reading(self) -> bool:
        return bool(self._slots)

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Run `callback` once every file being read is in the tray (now, when none is)."""
        if not self._slots:
            callback()
        elif callback not in self._when_ready:
            self._when_ready.append(callback)

    def clear(self) -> None:
        """Empties the tray; files still being read are dropped with it."""
        for slot in self._slots:
            if slot.task is not None:
                slot.task.cancel()
        self._slots.clear()
        self._when_ready.clear()
        self._parts.clear()
        self._refresh()

    def add(self, part: MediaPart | str) -> None:
        if self._slots:  # files attached before it are still being read: it waits its turn
            self._slots.append(_Slot([part]))
            return
        self._take(part)

    def add_files(self, paths: Sequence[Path]) -> None:
        """Reads the files in a worker; each becomes a part (or a sentence on `failed`) when read."""
        if not paths:
            return
        slot = _Slot()
        slot.task = task = run_task(parts_from_files, list(paths), name="attach files")
        self._slots.append(slot)
        task.finished.connect(lambda results: self._read(slot, results))
        task.failed.connect(lambda error: self._read(slot, [f"The files could not be attached: {error}"]))
        self._refresh()

    def _read(self, slot: _Slot, results: list[MediaPart | str]) -> None:
        if not shiboken6.isValid(self) or slot not in self._slots:
            return  # the tray is gone, or was cleared while the files were read
        slot.results = results
        while self._slots and self._slots[0].results is not None:
            for part in self._slots.popleft().results or ():
                self._take(part)
        self._refresh()
        if not self._slots:
            callbacks, self._when_ready = self._when_ready, []
            for callback in callbacks:
                callback()

    def _take(self, part: MediaPart | str) -> None:
        if isinstance(part, str):
            self.failed.emit(part)
            return
        self._parts.append(part)
        self._refresh()

    def remove(self, index: int) -> None:
        if 0 <= index < len(self._parts):
            del self._parts[index]
            self._refresh()

    def choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Attach images or audio", "", FILE_FILTER)
        self.add_files([Path(n) for n in names])

    def _refresh(self) -> None:
        while self._row.count() > 1:
            item = self._row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for i, part in enumerate(self._parts):
            button = QToolButton(self)
            pixmap = thumbnail(part)
            if pixmap is not None:
                button.setIcon(QIcon(pixmap))
                button.setIconSize(QSize(THUMB, THUMB))
            else:
                button.setText(f"♪ {part.name or 'audio'}")
            button.setToolTip(f"{part.name or part.kind} (click to remove)")
            button.clicked.connect(lambda _checked=False, index=i: self.remove(index))
            self._row.insertWidget(i, button)
        if self._slots:
            reading = QLabel("Reading…", self)
            reading.setObjectName("attachments-reading")
            reading.setToolTip("The attached files are being read; sending waits for them")
            self._row.insertWidget(len(self._parts), reading)
        self.setVisible(bool(self._parts) or bool(self._slots))
        self.changed.emit()

    # ------------------------------------------------------------------ paste and drop

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        paste = isinstance(event, QKeyEvent) and event.matches(QKeySequence.StandardKey.Paste)
        if kind == QEvent.Type.KeyPress and paste:
            return self._paste()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(event, QDragEnterEvent | QDropEvent):
            mime = event.mimeData()
            if mime.hasUrls() or mime.hasImage():
                event.acceptProposedAction()
                return True
        if kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
            mime = event.mimeData()
            files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
            if files:
                self.add_files(files)
                event.acceptProposedAction()
                return True
            if mime.hasImage():
                self.add(part_from_image(QImage(mime.imageData())))
                event.acceptProposedAction()
                return True
        return super().eventFilter(watched, event)

    def _paste(self) -> bool:
        """An image on the clipboard becomes an attachment; text pastes as usual."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return False
        files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if files and all(p.suffix.lower() in _MIME for p in files):  # files copied in a file manager
            self.add_files(files)
            return True
        if mime.hasImage() and not mime.hasText():
            self.add(part_from_image(QImage(mime.imageData())))
            return True
        return False


__all__ = [
    "AttachmentTray",
    "media_strip",
    "part_from_file",
    "part_from_image",
    "parts_from_files",
    "show_media",
    "thumbnail",
]
