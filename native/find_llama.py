"""Print llama-cpp-python's include and library folders (CMake list), without importing it."""

import importlib.util
import pathlib
import sys

spec = importlib.util.find_spec("llama_cpp")
if spec is None or not spec.submodule_search_locations:
    sys.exit(1)
package = pathlib.Path(next(iter(spec.submodule_search_locations)))
include = package.parent / "include"
lib = package / "lib"
if not (include / "ggml.h").is_file() or not lib.is_dir():
    sys.exit(1)
print(f"{include.as_posix()};{lib.as_posix()}", end="")
