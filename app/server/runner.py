"""uvicorn around the application: `serve` runs it in the foreground; `ServerThread` runs it on a thread
(tests, and later the app's Server page)."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import uvicorn

from app.estimate.hardware import HardwareSpec
from app.remote.rpc_probe import RpcWorker
from app.server.app import build_app
from app.server.catalog import Catalog, settings_folders
from app.server.config import ServerConfig
from app.server.endpoint import ServerState
from app.server.scheduler import Need, Scheduler, estimate_need

log = logging.getLogger("app.server")


def memory_budget(config: ServerConfig, hardware: HardwareSpec | None, workers: Sequence[RpcWorker] = ()) -> Need:
    """The memory the loaded models may share: the user's limit, else the RAM free now; the free VRAM; the
    free memory of every RPC worker device."""
    from app.server.pool_admission import device_free

    if hardware is None:
        from app.hardware.probe import probe_memory

        ram = config.memory_limit or probe_memory()[1]
        return Need(ram, 0, device_free(workers))
    return Need(config.memory_limit or hardware.ram_available, hardware.vram_free if hardware.has_gpu else 0,
                device_free(workers))


def make_state(config: ServerConfig, hardware: HardwareSpec | None, measured_at: float | None = None) -> ServerState:
    """The server's state; `measured_at`: when `hardware`'s free memory was read (time.monotonic; now if None)."""
    measured_at = time.monotonic() if measured_at is None else measured_at
    folders: Callable[[], Sequence[Path]] = (
        (lambda: list(config.folders or ())) if config.folders is not None else settings_folders
    )
    catalog = Catalog(folders)
    workers: tuple[RpcWorker, ...] = ()
    if config.engine.rpc_workers:  # probed once: their devices join the budget like local GPUs
        from app.server.pool_admission import device_names, probe_workers

        workers = probe_workers(config.engine.rpc_workers)
    scheduler = Scheduler(catalog, config.engine, memory_budget(config, hardware, workers), hardware,
                          config.models_ttl, functools.partial(estimate_need, workers=workers))
    if workers:
        scheduler.device_names = device_names(workers)
    scheduler.engine_nice = config.engine_nice
    scheduler.advice = config.budget_advice
    scheduler.ram_measured = config.memory_limit is None
    scheduler.measured_at = measured_at
    return ServerState(config, catalog, scheduler)


def uvicorn_server(state: ServerState) -> uvicorn.Server:
    config = state.config
    uv = uvicorn.Config(
        build_app(state), host=config.host, port=config.port, log_config=None, access_log=False,
        lifespan="on", timeout_graceful_shutdown=5,
        limit_concurrency=256,
    )
    return uvicorn.Server(uv)


class ServerThread:
    """The server on a background thread; `start` returns once it listens, `stop` once it has stopped
    (its engines closed)."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._server = uvicorn_server(state)
        self._thread = threading.Thread(target=self._server.run, name="api-server", daemon=True)

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.state.config.port

    @property
    def base_url(self) -> str:
        return f"http://{self.state.config.host}:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the server runs on once it listens: other threads submit scheduler work to it
        (app.server.shared_chat)."""
        for server in getattr(self._server, "servers", []):
            return server.get_loop()
        return None

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self._server.started:
            self.stop()
            raise RuntimeError("the API server did not start (see the log)")

    def stop(self, timeout: float = 30.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
