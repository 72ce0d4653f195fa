"""Run a job in a child process: a crash or a cancel never reaches the app, and never leaves partial files.

Child side: `serve(channel, work)` runs the work, streams its events, and always ends with Finished or
Failed. Parent side: `JobProcess` starts the child on app.process's Supervisor and hands out events as they
arrive (its log lines as Log events); a dead child becomes Failed with the Outcome's sentence; a cancel
stops it at once. Either way the child's temporary files of every planned output (`<out>.<pid>-*.part`, see
app.core.claim) are removed, and no other job's.
"""

from __future__ import annotations

import logging
import os
import queue
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.core.claim import remove_unheld, temp_files
from app.core.errors import QuantizeError
from app.process.channel import Channel
from app.process.job import serve_job
from app.process.messages import LogLine
from app.process.outcome import Outcome
from app.process.supervisor import Supervisor
from app.quantize import events as ev

log = logging.getLogger("app.quantize")


class _Spec(Protocol):
    def planned_outputs(self) -> list[Path]: ...

    def scratch_outputs(self) -> list[Path]: ...


def serve(channel: Channel, work: Callable[[Callable[[ev.Event], None]], Sequence[ev.Output]]) -> None:
    def emit(event: ev.Event) -> None:
        channel.send(event)

    serve_job(channel, lambda: ev.Finished(tuple(work(emit))), QuantizeError, log)


def remove_partials(paths: Sequence[Path], pid: int) -> None:
    """The temporary files process `pid` left for `paths`: its names carry its pid, so another job's stay.
    Its claims' lock files go too, unless another job holds one by now."""
    for path in paths:
        remove_unheld(path)
        for part in temp_files(path, pid):
            try:
                part.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove %s: %s", part, exc)


@dataclass(frozen=True, slots=True)
class _Ended:
    """Queued by the supervisor's thread when the child is gone."""

    outcome: Outcome


class JobProcess:
    """One job in one child process. Not thread-safe: poll and cancel from one thread."""

    def __init__(self, module: str, spec: _Spec) -> None:
        self.module = module
        self.spec = spec
        self._queue: queue.Queue[Any] = queue.Queue()
        subject = "the " + re.split(r"[.:]", module)[-1].replace("_", " ")
        self._child = Supervisor(
            module, (spec,), subject=subject, on_message=self._on_message, on_exit=lambda o: self._queue.put(_Ended(o)),
            on_log=self._queue.put,
        )
        self.finished = False
        self.cancelled = False
        self.outcome: Outcome | None = None
        self._produced: set[Path] = set()  # finished files the child reported

    def start(self) -> None:
        self._child.start()

    def _on_message(self, event: ev.Event) -> None:  # on the supervisor's thread
        if isinstance(event, ev.Stage):
            self._child.activity = f"in the {event.name} stage"
        self._queue.put(event)

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def poll(self, timeout: float = 0.0) -> list[ev.Event]:
        """Events that arrived (waiting up to timeout for the first); a terminal event ends the job."""
        out: list[ev.Event] = []
        while not self.finished:
            try:
                item = self._queue.get(timeout=timeout) if not out and timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, LogLine):
                if item.level >= logging.INFO:
                    out.append(ev.Log(f"{logging.getLevelName(item.level).lower()}: {item.message}"))
            elif isinstance(item, _Ended):
                self.outcome = item.outcome
                error = QuantizeError(item.outcome.sentence, hint=item.outcome.hint)
                out.append(ev.Failed(error))
                self._finish(failed=True)
            else:
                out.append(item)
                if isinstance(item, ev.Output):
                    self._produced.add(item.path)
                if isinstance(item, (ev.Finished, ev.Failed)):
                    self._finish(failed=isinstance(item, ev.Failed))
        return out

    def cancel(self) -> None:
        """Terminate, then kill if it lingers; remove partial outputs."""
        if self.finished:
            return
        self.cancelled = True
        self.outcome = self._child.stop()
        self._finish(failed=True)

    def wait(self) -> list[ev.Event]:
        events: list[ev.Event] = []
        while not self.finished:
            events.extend(self.poll(0.5))
        return events

    def _finish(self, failed: bool) -> None:
        self.finished = True
        if failed:
            self._child.stop()  # a child that reported failure ends by itself; one that died is gone already
            if self.pid is not None:
                remove_partials(self.spec.planned_outputs(), self.pid)
            # A killed child could not remove its intermediate; only one it reported is its own to remove.
            for path in set(self.spec.scratch_outputs()) & self._produced:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("could not remove %s: %s", path, exc)
        else:
            self.outcome = self._child.wait(5.0)


def cpu_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))
