"""The pinned llama.cpp, found the way a fresh machine can: the installed llama-cpp-python, and its sdist from PyPI.

- `installed_include()` / `installed_library(name)`: the headers and shared libraries the llama-cpp-python wheel
  installs (the same files app._native builds against). Enough for enum values, block sizes and the like.
- `llama_cpp_sources()`: the whole llama.cpp source tree of the installed version (convert_hf_to_gguf.py, gguf-py,
  src/, tools/), from `pip download` of the llama-cpp-python sdist, unpacked once into a per-user cache.
  LLAMA_CPP_SRC overrides it with an unpacked tree; GGUF_STUDIO_TEST_CACHE moves the cache.

Used by the test suite (the session fixture `llama_cpp_sources` in tests/conftest.py) and by benchmarks.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

DISTRIBUTION = "llama-cpp-python"
SOURCE_ENV = "LLAMA_CPP_SRC"
CACHE_ENV = "GGUF_STUDIO_TEST_CACHE"
_VENDOR = "vendor/llama.cpp"
_MARKER = "convert_hf_to_gguf.py"  # present in every llama.cpp tree of the versions we pin


class LlamaSourcesError(RuntimeError):
    """The pinned llama.cpp sources cannot be had; the message says what to do."""


def pinned_version() -> str:
    """The installed llama-cpp-python's version (read from its metadata: importing it would load libllama,
    and benchmarks keep their own process small because children inherit its memory at fork time)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise LlamaSourcesError(f"{DISTRIBUTION} is not installed (a runtime dependency: pip install -e .)") from exc


def _package_dir() -> Path:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise LlamaSourcesError(f"the llama_cpp package is not installed ({DISTRIBUTION} is a runtime dependency)")
    return Path(next(iter(spec.submodule_search_locations)))


def installed_include() -> Path:
    """<site-packages>/include of the llama-cpp-python wheel: ggml.h, llama.h, gguf.h …"""
    include = _package_dir().parent / "include"
    if not (include / "ggml.h").is_file():
        raise LlamaSourcesError(f"{DISTRIBUTION} installed no headers in {include}; reinstall it from its sdist")
    return include


def installed_library(name: str) -> Path:
    """A shared library of the wheel (`ggml-base`, `llama` …) in llama_cpp/lib, whatever the platform's naming."""
    lib = _package_dir() / "lib"
    for candidate in (f"lib{name}.so", f"lib{name}.dylib", f"{name}.dll", f"lib{name}.dll"):
        if (lib / candidate).is_file():
            return lib / candidate
    raise LlamaSourcesError(f"no {name} library in {lib}")


def cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("gguf-studio-tests"))


def llama_cpp_sources(version: str | None = None) -> Path:
    """The llama.cpp source tree of `version` (default: the installed llama-cpp-python's). Downloaded and
    unpacked on first use only; parallel callers wait for the one that fetches it."""
    override = os.environ.get(SOURCE_ENV)
    if override:
        tree = Path(override)
        if not (tree / _MARKER).is_file():
            raise LlamaSourcesError(f"{SOURCE_ENV}={override} is not a llama.cpp source tree (no {_MARKER})")
        return tree
    version = version or pinned_version()
    cache = cache_dir()
    final = cache / f"llama.cpp-{version}"
    if (final / _MARKER).is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".llama.cpp-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / _MARKER).is_file():
            _fetch(version, final)
    return final


def _fetch(version: str, final: Path) -> None:
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".fetch-") as tmp:
        work = Path(tmp)
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--disable-pip-version-check", "--quiet", f"{DISTRIBUTION}=={version}", "-d", str(work / "dl"),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        archives = sorted((work / "dl").glob("*.tar.gz")) if result.returncode == 0 else []
        if not archives:
            raise LlamaSourcesError(
                f"could not download the {DISTRIBUTION} {version} sdist from the package index "
                f"({' '.join(cmd)} exited {result.returncode}):\n{_last_lines(result.stderr)}\n"
                f"Fix the network or index access, or set {SOURCE_ENV} to an unpacked llama.cpp {version} tree."
            )
        unpacked = work / "src"
        _extract_vendor(archives[0], unpacked)
        trees = [p for p in unpacked.glob(f"*/{_VENDOR}") if (p / _MARKER).is_file()]
        if len(trees) != 1:
            raise LlamaSourcesError(f"{archives[0].name} holds no {_VENDOR} tree with {_MARKER}")
        if final.exists():  # an earlier, interrupted fetch without the marker
            shutil.rmtree(final)
        os.replace(trees[0], final)  # atomic: the tree appears complete or not at all


def _last_lines(text: str, n: int = 3) -> str:
    return "\n".join(line[-300:] for line in text.strip().splitlines()[-n:])


def _extract_vendor(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if f"/{_VENDOR}/" in f"/{m.name}/"]
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, members=members, filter="data")
        else:  # Python < 3.10.12 / 3.11.4: no extraction filters; the names come from PyPI's checked sdist
            tar.extractall(into, members=members)
