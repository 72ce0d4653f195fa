"""llama.cpp's own log, through its log callback, as whole lines: into our logging ("app.llama"), or to a
listener while a job captures it (a quantization reads its progress from it).

llama.cpp sends text in pieces (level CONT continues the previous one). The last warning and error lines
are kept, so a failed load can say why.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("app.llama")

LineFn = Callable[[int, str], None]  # (ggml log level, one line without its newline)

# ggml_log_level: NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5
_LEVELS = {0: logging.INFO, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_CONT = 5

_lock = threading.Lock()
# Per thread: llama.cpp logs on the thread that called it, and a job may run a dry run beside a quantization.
_pending: dict[int, str] = {}
_level: dict[int, int] = {}
_listeners: dict[int, list[tuple[LineFn, list[str]]]] = {}  # the innermost capture of a thread gets its lines
_recent: deque[str] = deque(maxlen=8)
_callback: Any = None  # the ctypes function object must outlive every call from C


def _deliver(level: int, line: str, listener: tuple[LineFn, list[str]] | None) -> None:
    py_level = _LEVELS.get(level, logging.INFO)
    if py_level >= logging.WARNING and line.strip():
        _recent.append(line.strip())
    if listener is not None:
        listener[1].append(line)
        listener[0](level, line)
    elif log.isEnabledFor(py_level):
        log.log(py_level, "%s", line)


def _on_log(level: int, text: bytes | None, _user_data: object) -> None:
    if not text:
        return
    thread = threading.get_ident()
    with _lock:
        if level != _CONT:
            _level[thread] = level
        *complete, rest = (_pending.get(thread, "") + text.decode("utf-8", errors="replace")).split("\n")
        _pending[thread] = rest
        current = _level.get(thread, 2)
        stack = _listeners.get(thread)
        listener = stack[-1] if stack else None
    for line in complete:
        _deliver(current, line, listener)
    if listener is not None and rest.startswith("[") and "]" in rest:
        listener[0](current, rest)  # a tensor's progress line, before its size arrives


def install() -> None:
    """Point llama.cpp's log at us (replaces llama-cpp-python's stderr printer); idempotent."""
    global _callback
    from app.process.llama_lib import low_level

    lib = low_level()
    if _callback is None:
        _callback = lib.llama_log_callback(_on_log)
    lib.llama_log_set(_callback, ctypes.c_void_p(0))


def reinstall() -> None:
    """Again, if it was installed (after something else took llama.cpp's log)."""
    if _callback is not None:
        install()


@contextmanager
def captured(on_line: LineFn) -> Iterator[list[str]]:
    """While inside, every line llama.cpp logs on this thread goes to on_line (and into the list yielded)
    instead of the log."""
    install()
    thread = threading.get_ident()
    entry: tuple[LineFn, list[str]] = (on_line, [])
    with _lock:
        _listeners.setdefault(thread, []).append(entry)
    try:
        yield entry[1]
    finally:
        with _lock:
            stack = [other for other in _listeners.get(thread, []) if other is not entry]
            if stack:
                _listeners[thread] = stack
            else:
                _listeners.pop(thread, None)
            rest = _pending.pop(thread, "")
        if rest:
            entry[1].append(rest)


def recent_problems() -> list[str]:
    """Warning and error lines seen lately (newest last), to explain a failure."""
    return [line for line in _recent if line]


def clear_recent() -> None:
    _recent.clear()
