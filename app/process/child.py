"""The first code a child runs (before its entry module, before llama.cpp loads)."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from multiprocessing.connection import Connection
from typing import Any

from app.process.channel import Channel
from app.process.messages import LogLine


class _RelayHandler(logging.Handler):
    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._channel.send(LogLine(record.name, record.levelno, record.getMessage()))
        except Exception:  # logging must never take the child down
            self.handleError(record)


def _redirect_native_output(native: Connection) -> None:
    """fd 1 and fd 2 (C code's printf and ggml's abort message) go into a pipe the app reads: never onto
    the user's terminal, never into `--json` output."""
    fd = native.fileno()
    for stream, target in ((sys.stdout, 1), (sys.stderr, 2)):
        if stream is not None:
            stream.flush()
        os.dup2(fd, target)
    native.close()


def lower_priority(increment: int) -> None:
    """Makes this process `increment` steps nicer. Called first thing in the child, on its only thread: on
    Linux niceness belongs to each thread and new threads inherit their creator's, so llama.cpp's compute
    threads started later are all nicer too (a renice from outside would reach the main thread only)."""
    if increment <= 0:
        return
    try:
        if hasattr(os, "nice"):
            os.nice(increment)
        else:  # Windows: no nice levels, one class below normal
            import psutil

            psutil.Process().nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
    except OSError as exc:  # a priority is a courtesy: never a reason not to start
        logging.getLogger("app.process").warning("could not lower the priority of %s: %s", os.getpid(), exc)


def bootstrap(entry: str, conn: Connection, native: Connection | None, log_level: int, args: tuple[Any, ...],
              nice: int = 0) -> None:
    """Runs `entry`'s main (or `module:function`) as `main(channel, *args)` in this child (the target of
    every spawned Process), `nice` steps below the app's priority."""
    lower_priority(nice)
    # ggml prints a gdb backtrace on abort unless this is set; it reads it at the moment of the abort.
    os.environ["GGML_NO_BACKTRACE"] = "1"
    if native is not None:
        _redirect_native_output(native)
    channel = Channel(conn)
    root = logging.getLogger()
    root.handlers[:] = [_RelayHandler(channel)]
    root.setLevel(log_level)
    logging.getLogger("app").setLevel(log_level)
    module, _, function = entry.partition(":")
    getattr(importlib.import_module(module), function or "main")(channel, *args)
