"""Logging to a rotating file in the log dir (and to stderr for CLI verbs)."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys

from app.core import paths

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_configured = False


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log file; when it cannot be written (a full disk) records are dropped, with one line on stderr,
    instead of a "--- Logging error ---" traceback for each record."""

    _warned = False

    def handleError(self, record: logging.LogRecord) -> None:
        if not self._warned:
            self._warned = True
            with contextlib.suppress(Exception):
                sys.stderr.write(f"warning: cannot write the log file {self.baseFilename}; logging stopped\n")


def setup_logging(*, debug: bool = False, console: bool = False) -> None:
    global _configured
    root = logging.getLogger("app")
    if _configured:
        return
    _configured = True
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    try:
        handler: logging.Handler = _LogFile(
            paths.log_file(), maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        handler = logging.StreamHandler()  # unwritable log dir: keep going, log to stderr
    handler.setFormatter(logging.Formatter(_FORMAT))
    root.addHandler(handler)
    if console and debug:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(stream)
