"""The app's side of one child: its messages and native output read on threads, stop with grace periods,
and its end turned into an Outcome."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from app.process.channel import Channel
from app.process.messages import LogLine
from app.process.native_output import NativeOutput
from app.process.outcome import Outcome, describe
from app.process.spawn import start_child

log = logging.getLogger("app.process")

ASK_GRACE_S = 3.0  # after asking the child to quit
TERMINATE_GRACE_S = 2.0  # after SIGTERM, before SIGKILL
EXIT_WAIT_S = 5.0  # end of pipe -> process gone
NATIVE_WAIT_S = 2.0  # process gone -> the last native lines read


def relay_log(line: LogLine) -> None:
    """A child's log record into the app's logging (always under "app", never onto the terminal)."""
    name = line.logger if line.logger == "app" or line.logger.startswith("app.") else f"app.child.{line.logger}"
    logger = logging.getLogger(name)
    if logger.isEnabledFor(line.level):
        logger.log(line.level, "%s", line.message)


class Supervisor:
    """One child process. `on_message` gets every message but log lines (on the reader thread); `on_exit`
    gets the Outcome once the child is gone, however it ended.

    `activity` says what the child is doing ("while loading the model"), for the Outcome's sentence.
    `nice` > 0 runs the child below the app's priority (app.process.child.lower_priority)."""

    def __init__(
        self,
        entry: str,
        args: tuple[Any, ...] = (),
        *,
        subject: str,
        on_message: Callable[[Any], None],
        on_exit: Callable[[Outcome], None] | None = None,
        on_log: Callable[[LogLine], None] | None = None,
        nice: int = 0,
    ) -> None:
        self.entry = entry
        self.nice = nice
        self.args = args
        self.subject = subject
        self.activity = ""
        self.outcome: Outcome | None = None
        self._on_message = on_message
        self._on_exit = on_exit
        self._on_log = on_log
        self._process: Any = None
        self._channel: Channel | None = None
        self._native: NativeOutput | None = None
        self._stopping = False
        self._ended = threading.Event()

    def start(self) -> None:
        name = re.split(r"[.:]", self.entry)[-1]
        started = start_child(self.entry, self.args, name=f"gguf-studio-{name}", nice=self.nice)
        self._process = started.process
        self._channel = Channel(started.conn)
        if started.native is not None:
            self._native = NativeOutput(started.native, name)
        threading.Thread(target=self._read, name=f"{name}-messages", daemon=True).start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and not self._ended.is_set() and self._process.is_alive()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def send(self, message: Any) -> bool:
        """False when the child is not there to receive it."""
        return self._channel is not None and not self._ended.is_set() and self._channel.send(message)

    def stop(self, ask: Any = None, grace: float = ASK_GRACE_S) -> Outcome | None:
        """Ends the child: sends `ask` (a quit request) and waits `grace`, then terminates, then kills.
        Returns the Outcome (stopped=True unless it had ended on its own before)."""
        process = self._process
        if process is None:
            return None
        self._stopping = True
        if ask is not None and process.is_alive() and self._channel is not None:
            self._channel.send(ask)
            process.join(grace)
        if process.is_alive():
            process.terminate()
            process.join(TERMINATE_GRACE_S)
        if process.is_alive():
            process.kill()
            process.join(TERMINATE_GRACE_S)
        self._ended.wait(EXIT_WAIT_S + NATIVE_WAIT_S + 1.0)
        return self.outcome

    def wait(self, timeout: float | None = None) -> Outcome | None:
        self._ended.wait(timeout)
        return self.outcome

    def _read(self) -> None:
        channel = self._channel
        assert channel is not None
        while True:
            try:
                message = channel.recv()
            except EOFError:
                break
            try:
                if isinstance(message, LogLine):
                    relay_log(message)
                    if self._on_log is not None:
                        self._on_log(message)
                else:
                    self._on_message(message)
            except Exception:  # a bug in a handler must not stop the relay
                log.exception("handling %s from %s failed", type(message).__name__, self.subject)
        self._finish()

    def _finish(self) -> None:
        process = self._process
        process.join(EXIT_WAIT_S)
        if process.is_alive():  # closed its end but lingers: it is no use any more
            process.kill()
            process.join(TERMINATE_GRACE_S)
        native = self._native
        if native is not None:
            native.wait(NATIVE_WAIT_S)
        outcome = describe(
            self.subject,
            process.exitcode,
            native_errors=tuple(native.errors) if native else (),
            last_lines=tuple(native.last_lines) if native else (),
            activity=self.activity,
            stopped=self._stopping,
        )
        self.outcome = outcome
        if self._channel is not None:
            self._channel.close()
        if not outcome.clean:
            log.error("%s (%s)", outcome.sentence, self.entry)
        self._ended.set()
        if self._on_exit is not None:
            try:
                self._on_exit(outcome)
            except Exception:
                log.exception("handling the end of %s failed", self.subject)
