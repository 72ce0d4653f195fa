"""llama.cpp's own llama-server, built once from the pinned binding's sources into the user cache.

Only the `llama-server` target is built (no UI assets, no curl, no network at build time); later runs reuse
the binary. Several minutes on two cores the first time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_dir() -> Path:
    import platformdirs

    from tests.support.llama_sources import pinned_version

    return Path(platformdirs.user_cache_dir("gguf-studio-bench")) / f"llama-server-{pinned_version()}"


def llama_server_binary(jobs: int | None = None) -> Path:
    from tests.support.llama_sources import llama_cpp_sources

    build = build_dir()
    binary = build / "bin" / "llama-server"
    if binary.exists():
        return binary
    sources = llama_cpp_sources()
    subprocess.run(
        ["cmake", "-S", str(sources), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
         "-DLLAMA_OPENSSL=OFF", "-DGGML_NATIVE=ON", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
         "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF"],
        check=True,
    )
    subprocess.run(
        ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs or os.cpu_count() or 2)],
        check=True,
    )
    return binary


if __name__ == "__main__":
    print(llama_server_binary())
