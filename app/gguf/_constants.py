"""The `gguf` package's constants module, loaded on its own.

`import gguf` pulls in the writer, quantizers, YAML and more (about 0.2 s); the reader only needs the
enum tables in gguf/constants.py, which imports nothing heavy. So load that one file as a module.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType


@cache
def gguf_constants() -> ModuleType:
    """The `gguf.constants` module (the already imported one if `gguf` is loaded)."""
    loaded = sys.modules.get("gguf.constants")
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("gguf")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "constants.py"
        if not path.is_file():  # a frozen bundle keeps the module in its archive, not as a file
            continue
        sub = importlib.util.spec_from_file_location("app.gguf._gguf_constants", path)
        if sub is None or sub.loader is None:
            continue
        module = importlib.util.module_from_spec(sub)
        sub.loader.exec_module(module)
        return module
    import gguf.constants  # frozen, or the package layout changed: the ordinary import

    return gguf.constants
