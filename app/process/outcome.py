"""How a child process ended, in words a user can act on."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass

# ggml_abort writes "<source file>:<line>: <message>" to stderr just before abort() (GGML_ASSERT, GGML_ABORT).
_GGML_LINE = re.compile(r"^(?P<file>\S.*\.(?:c|cc|cpp|cxx|h|hpp|cu|m|mm)):(?P<line>\d+): (?P<message>.*\S)\s*$")


def native_error(line: str) -> str | None:
    """'GGML_ASSERT(x) failed (llama-vocab.cpp:2544)' from ggml's abort line, or None for other lines."""
    match = _GGML_LINE.match(line.strip())
    if match is None:
        return None
    message = match.group("message")
    file = re.split(r"[\\/]", match.group("file"))[-1]
    return f"{message} ({file}:{match.group('line')})"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of a child: its exit code or signal, ggml's last error lines, and one sentence (with a hint)."""

    exitcode: int | None  # None: it could not be waited for
    signal: str | None  # "SIGKILL" when a signal ended it
    native_errors: tuple[str, ...]  # ggml's abort lines, oldest first
    sentence: str
    hint: str = ""
    stopped: bool = False  # the app asked it to end (close, cancel)

    @property
    def clean(self) -> bool:
        return self.exitcode == 0 or self.stopped


def describe(
    subject: str,
    exitcode: int | None,
    *,
    native_errors: tuple[str, ...] = (),
    last_lines: tuple[str, ...] = (),
    activity: str = "",
    stopped: bool = False,
) -> Outcome:
    """subject: "the chat engine"; activity: "while loading the model" (what it was doing, if known)."""
    sig = signal_name(-exitcode) if exitcode is not None and exitcode < 0 else None
    who = subject[:1].upper() + subject[1:]

    def outcome(sentence: str, hint: str = "") -> Outcome:
        return Outcome(exitcode, sig, native_errors, sentence, hint, stopped)

    if stopped:
        return outcome(f"{who} was stopped")
    if native_errors:
        where = f" {activity}" if activity else ""
        return outcome(f"llama.cpp stopped{where}: {native_errors[-1]}")
    if exitcode is None:
        return outcome(f"{who} stopped answering", "start it again")
    if sig in ("SIGKILL", "SIGTERM", "SIGINT"):
        return outcome(f"{who} was killed ({sig})", "if you did not stop it, the system may have run out of memory")
    if sig is not None:
        return outcome(f"{who} crashed ({sig})", "see the log for details")
    if exitcode == 0:
        return outcome(f"{who} ended without an answer", "see the log for details")
    last = next((line for line in reversed(last_lines) if line.strip()), "")
    detail = f": {last.strip()}" if last else ""
    return outcome(f"{who} exited unexpectedly (exit code {exitcode}){detail}", "see the log for details")
