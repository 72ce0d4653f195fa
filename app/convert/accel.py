"""The native kernels (app._native) when they were built, else None: callers fall back to numpy."""

from __future__ import annotations

import importlib
import logging
import os
from functools import cache
from types import ModuleType

log = logging.getLogger("app.convert")

# safetensors dtype -> ggml type id the native kernels read.
NATIVE_SOURCES = {"F32": 0, "F16": 1, "BF16": 30}


@cache
def native() -> ModuleType | None:
    try:
        return importlib.import_module("app._native")
    except ImportError as exc:
        log.warning("native kernels unavailable, using numpy: %s", exc)
        return None


def default_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))
