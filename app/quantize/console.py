"""Show a job's events on a terminal (for the CLI verbs), running it in a worker process."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from app.core.errors import QuantizeError
from app.core.units import format_bytes, format_duration
from app.quantize import events as ev
from app.quantize.runner import JobProcess


class _Printer:
    def __init__(self, stream: TextIO, verbose: bool) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.verbose = verbose
        self.last = 0.0
        self.open_line = False

    def line(self, text: str) -> None:
        if self.open_line:
            self.stream.write("\n")
            self.open_line = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.open_line:
            self.stream.write("\n")
            self.open_line = False
            self.stream.flush()

    def progress(self, p: ev.Progress) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 2.0) and p.fraction < 1.0:
            return
        self.last = now
        eta = f", {format_duration(p.eta_s)} left" if p.eta_s is not None and p.fraction < 1.0 else ""
        text = f"{p.stage}: {100 * p.fraction:5.1f}%  {p.detail}{eta}"
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
            self.open_line = True
            self.stream.flush()
        else:
            self.line(text)

    def show(self, event: ev.Event) -> None:
        if isinstance(event, ev.Progress):
            self.progress(event)
        elif isinstance(event, ev.Stage):
            self.line(f"[{event.index}/{event.count}] {event.name}")
        elif isinstance(event, ev.Warning_):
            self.line(f"warning: {event.message}")
        elif isinstance(event, ev.Planned):
            self.line(f"{event.type_name}: about {format_bytes(event.size_bytes)}")
        elif isinstance(event, ev.Log) and self.verbose:
            self.line(event.line)
        elif isinstance(event, ev.Output) and event.mean_kld is not None:
            agree = 100 * (event.top1_agreement or 0.0)
            self.line(f"{event.type_name}: mean KLD {event.mean_kld:.4f}, top-1 agreement {agree:.1f}%")


def run_job(module: str, spec: Any, verbose: bool = False, stream: TextIO | None = None) -> tuple[ev.Output, ...]:
    """Run the job in a child process; Ctrl-C cancels it (and removes partial files)."""
    printer = _Printer(stream or sys.stderr, verbose)
    job = JobProcess(module, spec)
    job.start()
    try:
        while not job.finished:
            for event in job.poll(0.25):
                if isinstance(event, ev.Finished):
                    printer.line("done")
                    return event.outputs
                if isinstance(event, ev.Failed):
                    printer.finish()
                    raise event.error
                printer.show(event)
    except KeyboardInterrupt:
        job.cancel()
        raise
    raise QuantizeError("the job ended without a result")

