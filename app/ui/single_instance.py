"""One GUI per home: the first start holds a lock and listens; a later start asks it to come forward and exits.

The lock file (flock, released by the OS however the holder dies) decides who is first; a QLocalServer named
from the home path carries the "come forward" request. A stale socket left by a killed instance cannot
mislead a new one: it only listens after taking the lock.
"""

from __future__ import annotations

import hashlib
import logging
import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.core import paths
from app.core.locking import FileLock

log = logging.getLogger("app.ui")

ACTIVATE = b"activate\n"
_TIMEOUT_MS = 2000


def server_name() -> str:
    home = str(paths.data_dir().resolve())
    return "gguf-studio-" + hashlib.sha256(home.encode("utf-8")).hexdigest()[:16]


class SingleInstance(QObject):
    """`claim()` is True in the first instance (then `activated` fires when another start asks for us)."""

    activated = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = FileLock(paths.data_dir() / "instance.lock")
        self._server: QLocalServer | None = None
        self.name = server_name()

    def claim(self) -> bool:
        if not self._lock.acquire(timeout=0):
            return False
        self._lock.write_owner(str(os.getpid()))
        QLocalServer.removeServer(self.name)  # a socket file a killed instance left behind
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            log.warning("cannot listen for other instances on %s: %s", self.name, server.errorString())
        server.newConnection.connect(self._on_connection)
        self._server = server
        return True

    def owner_pid(self) -> str:
        return self._lock.read_owner()

    def ask_first_to_come_forward(self) -> bool:
        """From a second start: True when the running instance got the request."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(_TIMEOUT_MS):
            return False
        socket.write(ACTIVATE)
        sent = socket.waitForBytesWritten(_TIMEOUT_MS)
        socket.disconnectFromServer()
        return sent

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.release()

    def _on_connection(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._on_ready(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._on_ready(socket)

    def _on_ready(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).startswith(ACTIVATE.strip()):
            self.activated.emit()


def already_running_message(instance: SingleInstance, forwarded: bool) -> str:
    pid = instance.owner_pid()
    who = f" (process {pid})" if pid else ""
    if forwarded:
        return f"GGUF Studio is already running for this home{who}; its window was brought forward."
    return (
        f"GGUF Studio is already running for this home{who} but did not answer. "
        "Close it (or end that process) and start again."
    )
