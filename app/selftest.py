"""`gguf-studio --self-test`: is this installation whole? Window, GGUF reader, engine process, generation.

Works the same in a venv and in an installer bundle; prints one line per check and exits 0 only if all pass.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path


def _check_window() -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.core.settings import Settings
    from app.ui.application import create_application
    from app.ui.main_window import MainWindow
    from app.ui.pages.registry import PAGES

    create_application()
    window = MainWindow(Settings())
    window.resize(1000, 700)
    window.show()
    broken = window.open_every_page()
    image = window.grab().toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 40) for y in range(0, image.height(), 40)}
    window.close_now()
    if broken:
        raise RuntimeError("pages failed to open: " + "; ".join(f"{name} ({why})" for name, why in broken.items()))
    if len(colours) < 3:
        raise RuntimeError("the window rendered blank")
    return f"main window opened offscreen, {len(PAGES)} pages"


def _check_gguf(model: Path) -> str:
    from app.gguf.reader import read_header

    header = read_header(model)
    if header.architecture != "llama" or not header.tensors:
        raise RuntimeError(f"unexpected header: {header.architecture}, {len(header.tensors)} tensors")
    return f"GGUF header read: {header.architecture}, {len(header.tensors)} tensors, {len(header.metadata)} keys"


def _check_engine(model: Path) -> str:
    from app.chat import protocol as p
    from app.chat.client import EngineClient

    started = time.perf_counter()
    with EngineClient() as client:
        client.load(str(model), p.EngineSettings(n_ctx=128, n_threads=2), timeout=120)
        done = client.generate(prompt="hello world", template="raw",
                               sampling=p.Sampling(temperature=0.0, max_tokens=8, seed=1))
    if done.stats.generated_tokens < 1:
        raise RuntimeError("the engine generated no tokens")
    return (f"engine process loaded the model and generated {done.stats.generated_tokens} tokens "
            f"in {time.perf_counter() - started:.1f} s")


def _check_rpc(model: Path) -> str:
    """ggml's RPC backend end to end on loopback: a worker process of ours, and the engine offloading every
    layer to it (the bundle must be built with GGML_RPC)."""
    import socket

    from app.chat import protocol as p
    from app.chat.client import EngineClient
    from app.remote.ggml_backend import rpc_supported
    from app.remote.worker import WorkerProcess

    if not rpc_supported():
        raise RuntimeError("llama.cpp built without GGML_RPC")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    worker = WorkerProcess("127.0.0.1", port, threads=1)
    try:
        worker.start()
        with EngineClient() as client:
            settings = p.EngineSettings(n_ctx=128, n_threads=2, n_gpu_layers=999, rpc_workers=(worker.endpoint,))
            client.load(str(model), settings, timeout=120)
            done = client.generate(prompt="hello world", template="raw",
                                   sampling=p.Sampling(temperature=0.0, max_tokens=4, seed=1))
    finally:
        worker.stop()
    if done.stats.generated_tokens < 1:
        raise RuntimeError("the pooled engine generated no tokens")
    return f"RPC worker on {worker.endpoint} ran every layer; {done.stats.generated_tokens} tokens"


def run_self_test(out: Callable[[str], None] = print) -> int:
    from app.gguf.synthetic import TinySpec, write_tiny_gguf

    failures = 0
    with tempfile.TemporaryDirectory(prefix="gguf-studio-selftest-") as folder:
        model = write_tiny_gguf(Path(folder) / "selftest.gguf", TinySpec(n_layer=2, n_vocab=300))
        checks: list[tuple[str, Callable[[], str]]] = [
            ("window", _check_window),
            ("gguf", lambda: _check_gguf(model)),
            ("engine", lambda: _check_engine(model)),
            ("rpc", lambda: _check_rpc(model)),
        ]
        for name, check in checks:
            try:
                out(f"ok    {name}: {check()}")
            except Exception as exc:
                failures += 1
                out(f"FAIL  {name}: {type(exc).__name__}: {exc}")
                if os.environ.get("GGUF_STUDIO_DEBUG"):
                    traceback.print_exc(file=sys.stderr)
    frozen = "bundle" if getattr(sys, "frozen", False) else "venv"
    out(f"self-test ({frozen}, {sys.executable}): {'passed' if failures == 0 else f'{failures} failed'}")
    return 0 if failures == 0 else 1
