"""Route llama.cpp's log output into our logging, through llama.cpp's own log callback.

llama.cpp sends text in pieces (level CONT continues the previous line), so pieces are joined into lines.
The last few error lines are kept so a failed load can say why.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import deque
from typing import Any

log = logging.getLogger("app.chat.llama")

# ggml_log_level: NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5
_LEVELS = {0: logging.INFO, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_CONT = 5

_lock = threading.Lock()
_pending: list[str] = []
_pending_level = logging.INFO
_recent_errors: deque[str] = deque(maxlen=8)
_callback: Any = None  # the ctypes function object must outlive every call from C


def _on_log(level: int, text: bytes | None, _user_data: object) -> None:
    global _pending_level
    if not text:
        return
    piece = text.decode("utf-8", errors="replace")
    with _lock:
        if level != _CONT:
            _pending_level = _LEVELS.get(level, logging.INFO)
        _pending.append(piece)
        if not piece.endswith("\n"):
            return
        line = "".join(_pending).rstrip("\n")
        _pending.clear()
        emit_level = _pending_level
    if emit_level >= logging.WARNING:
        _recent_errors.append(line.strip())
    if log.isEnabledFor(emit_level):
        log.log(emit_level, "%s", line)


def install() -> None:
    """Point llama.cpp's logging at our logger (replaces llama-cpp-python's stderr printer)."""
    global _callback
    import llama_cpp

    if _callback is None:
        _callback = llama_cpp.llama_log_callback(_on_log)
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))


def recent_problems() -> list[str]:
    """Warning and error lines seen lately (newest last), to explain a failure."""
    return [line for line in _recent_errors if line]


def clear_recent() -> None:
    _recent_errors.clear()
