"""Real llama.cpp RPC workers (our `rpc-worker` child) on 127.0.0.1: devices that layers, caches and experts are
offloaded to, so GPU placement can be checked on a machine without a GPU."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from app.remote.worker import WorkerProcess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_worker() -> WorkerProcess:
    process = WorkerProcess("127.0.0.1", free_port(), threads=1)
    process.start()
    return process


@contextmanager
def running_workers(count: int) -> Iterator[tuple[str, ...]]:
    """`count` workers; their endpoints in device order."""
    started: list[WorkerProcess] = []
    try:
        for _ in range(count):
            started.append(start_worker())
        yield tuple(process.endpoint for process in started)
    finally:
        for process in started:
            process.stop()
