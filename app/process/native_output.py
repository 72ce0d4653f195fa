"""The app's side of a child's native stdout/stderr: read on a thread, logged, the last lines kept."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from multiprocessing.connection import Connection

from app.process.outcome import native_error

log = logging.getLogger("app.native")


class NativeOutput:
    """Reads the pipe until every writer is gone (the child and anything it started have exited)."""

    def __init__(self, conn: Connection, name: str) -> None:
        self._conn = conn
        self._name = name
        self.last_lines: deque[str] = deque(maxlen=20)
        self.errors: deque[str] = deque(maxlen=4)  # ggml abort lines, reworded by outcome.native_error
        self._thread = threading.Thread(target=self._read, name=f"{name}-native", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fd = self._conn.fileno()
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._line(line)
        if pending:
            self._line(pending)
        self._conn.close()

    def _line(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not line.strip():
            return
        self.last_lines.append(line)
        error = native_error(line)
        if error is not None:
            self.errors.append(error)
        log.log(logging.ERROR if error else logging.INFO, "%s: %s", self._name, line)

    def wait(self, timeout: float) -> None:
        self._thread.join(timeout)
