"""Run a job in a child process: a crash or a cancel never reaches the app, and never leaves partial files.

Child side: `serve(conn, work)` runs the work, streams its events, and always ends with Finished or Failed.
Parent side: `JobProcess` starts the child (spawn), hands out events as they arrive, turns a dead child into
a Failed event, and on cancel terminates then kills it. Either way every planned output's *.part is removed.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from app.core.errors import AppError
from app.quantize import events as ev

log = logging.getLogger("app.quantize")

KILL_GRACE_S = 3.0


class _Spec(Protocol):
    def planned_outputs(self) -> list[Path]: ...


class _PipeLog(logging.Handler):
    def __init__(self, emit: Callable[[ev.Event], None]) -> None:
        super().__init__(logging.INFO)
        self._emit = emit

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(ev.Log(f"{record.levelname.lower()}: {record.getMessage()}"))
        except Exception:
            self.handleError(record)


def serve(conn: Connection, work: Callable[[Callable[[ev.Event], None]], Sequence[ev.Output]]) -> None:
    lock = threading.Lock()

    def emit(event: ev.Event) -> None:
        with lock:
            conn.send(event)

    handler = _PipeLog(emit)
    logging.getLogger("app").addHandler(handler)
    logging.getLogger("app").setLevel(logging.INFO)
    try:
        emit(ev.Finished(tuple(work(emit))))
    except AppError as exc:
        emit(ev.Failed(str(exc), type(exc).__name__))
    except BaseException as exc:  # a bug: report it with its traceback rather than die silently
        emit(ev.Failed(f"unexpected {type(exc).__name__}: {exc}\n{traceback.format_exc()}", type(exc).__name__))
    finally:
        logging.getLogger("app").removeHandler(handler)
        conn.close()


def _child(module: str, conn: Connection, spec: Any) -> None:
    importlib.import_module(module).main(conn, spec)


def remove_partials(paths: Sequence[Path]) -> None:
    for path in paths:
        part = path.with_name(path.name + ".part")
        try:
            part.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove %s: %s", part, exc)


class JobProcess:
    """One job in one child process. Not thread-safe: poll and cancel from one thread."""

    def __init__(self, module: str, spec: _Spec) -> None:
        self.module = module
        self.spec = spec
        ctx = multiprocessing.get_context("spawn")
        self._conn, child_conn = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_child, args=(module, child_conn, spec), name=module, daemon=True)
        self._child_conn = child_conn
        self.finished = False
        self.cancelled = False

    def start(self) -> None:
        self._process.start()
        self._child_conn.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def poll(self, timeout: float = 0.0) -> list[ev.Event]:
        """Events that arrived (waiting up to timeout for the first); a terminal event ends the job."""
        out: list[ev.Event] = []
        if self.finished:
            return out
        try:
            while self._conn.poll(timeout if not out else 0.0):
                event = self._conn.recv()
                out.append(event)
                if isinstance(event, (ev.Finished, ev.Failed)):
                    self._finish(failed=isinstance(event, ev.Failed))
                    return out
        except (EOFError, OSError):
            self._process.join(KILL_GRACE_S)
            code = self._process.exitcode
            self._finish(failed=True)
            why = "was cancelled" if self.cancelled else f"stopped unexpectedly (exit code {code})"
            out.append(ev.Failed(f"the {self.module.rsplit('.', 1)[-1].replace('_', ' ')} {why}", "WorkerCrashed"))
        return out

    def cancel(self) -> None:
        """Terminate, then kill if it lingers; remove partial outputs."""
        if self.finished:
            return
        self.cancelled = True
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(KILL_GRACE_S)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(KILL_GRACE_S)
        self._finish(failed=True)

    def wait(self) -> list[ev.Event]:
        events: list[ev.Event] = []
        while not self.finished:
            events.extend(self.poll(0.5))
        return events

    def _finish(self, failed: bool) -> None:
        self.finished = True
        self._process.join(KILL_GRACE_S)
        if failed:
            remove_partials(self.spec.planned_outputs())
        self._conn.close()


def cpu_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))
