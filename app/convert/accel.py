"""What the converter tells the native kernels (app._native, always built with the package): the source types
they read and how many threads they use."""

from __future__ import annotations

import os

# safetensors dtype -> ggml type id the native kernels read.
NATIVE_SOURCES = {"F32": 0, "F16": 1, "BF16": 30}


def default_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))
