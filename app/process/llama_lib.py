"""llama-cpp-python's low-level binding without its high-level half, for children that only need ctypes.

`import llama_cpp` runs the package's __init__, which also imports the high-level `Llama` and with it numpy,
jinja2 and diskcache: about half a second at every job's start that a job never uses. `low_level()` loads
only the ctypes binding (`llama_cpp.llama_cpp`) under the package's name; the rest loads the first time a
name it lacks is asked for (`Llama`, `__version__`), so `import llama_cpp` elsewhere still works as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

_lock = threading.RLock()  # a half-made package must never be seen by a second thread


def low_level() -> Any:
    with _lock:
        package = sys.modules.get("llama_cpp")
        return package if package is not None else _load()


def _load() -> Any:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.loader is None:
        raise ImportError("llama-cpp-python is not installed")
    package = importlib.util.module_from_spec(spec)
    sys.modules["llama_cpp"] = package
    try:
        binding = importlib.import_module("llama_cpp.llama_cpp")
    except BaseException:
        del sys.modules["llama_cpp"]
        raise
    package.__dict__.update({k: v for k, v in vars(binding).items() if not k.startswith("_")})
    package.__dict__["__getattr__"] = _complete_on_demand(package)
    return package


def _complete_on_demand(package: ModuleType) -> Any:
    def __getattr__(name: str) -> Any:
        with _lock:
            if package.__dict__.pop("__getattr__", None) is not None:
                spec = package.__spec__
                assert spec is not None and spec.loader is not None
                spec.loader.exec_module(package)  # the package's own __init__: the high-level half
                from app.process import native_log

                native_log.reinstall()  # the high-level half points llama.cpp's log at its own printer
        return getattr(package, name)

    return __getattr__
