"""Start a child through multiprocessing's spawn context (a fresh interpreter: safe with threads, on every
platform and in the frozen bundle, whose entry point calls multiprocessing.freeze_support)."""

from __future__ import annotations

import logging
import multiprocessing
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from app.process import child


@dataclass(frozen=True, slots=True)
class Started:
    process: BaseProcess
    conn: Connection  # duplex: messages both ways
    native: Connection | None  # read end of the child's fd 1 and fd 2 (None where fds cannot be passed)


def start_child(entry: str, args: tuple[Any, ...] = (), *, name: str, log_level: int | None = None,
                nice: int = 0) -> Started:
    """Runs `entry.main(channel, *args)` in a new process (`module:function` names another function);
    `entry` is a module path, so callers need not import the child's code (or llama.cpp) themselves.
    `nice` > 0 runs the child (every thread it starts) that many steps below the app's priority."""
    ctx = multiprocessing.get_context("spawn")
    conn, child_conn = ctx.Pipe(duplex=True)
    native_read: Connection | None = None
    native_write: Connection | None = None
    if sys.platform != "win32":  # a pipe's end becomes the child's fds 1 and 2 (Windows pipes are handles)
        native_read, native_write = ctx.Pipe(duplex=False)
    level = logging.getLogger("app").getEffectiveLevel() if log_level is None else log_level
    process = ctx.Process(
        target=child.bootstrap, args=(entry, child_conn, native_write, level, args, nice), name=name, daemon=True
    )
    process.start()
    # Only the child holds these ends now, so its death shows here as end-of-file on both pipes.
    child_conn.close()
    if native_write is not None:
        native_write.close()
    return Started(process, conn, native_read)
