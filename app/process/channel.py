"""One end of the pipe between the app and a child: typed messages (frozen dataclasses), sent whole."""

from __future__ import annotations

import threading
from multiprocessing.connection import Connection
from typing import Any


class Channel:
    """Sends from any thread (a lock keeps messages whole); receives on one thread.

    Once the other side is gone, `broken` is set and further sends are dropped: a child finds out on its
    next receive, the app through the supervisor."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.broken = False

    def send(self, message: Any) -> bool:
        if self.broken:
            return False
        with self._lock:
            try:
                self._conn.send(message)
            except (OSError, ValueError):
                self.broken = True
                return False
        return True

    def recv(self) -> Any:
        """The next message; EOFError once the other side closed its end or died."""
        try:
            return self._conn.recv()
        except OSError as exc:
            raise EOFError(str(exc)) from exc

    def poll(self, timeout: float = 0.0) -> bool:
        try:
            return self._conn.poll(timeout)
        except (OSError, ValueError):
            return True  # recv() will say EOF

    def close(self) -> None:
        self._conn.close()
