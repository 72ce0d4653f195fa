"""Entry point of the RPC worker process: ggml's RPC server over this machine's devices (app.remote.worker)."""

from __future__ import annotations

import logging

from app.core.errors import AppError, RpcError
from app.process.channel import Channel

log = logging.getLogger("app.remote.worker")


def main(channel: Channel, endpoint: str, device_names: tuple[str, ...], threads: int, cache_dir: str | None) -> None:
    """Child process entry (see app.process.child.bootstrap)."""
    from app.remote import ggml_backend
    from app.remote.worker import WorkerFailed, WorkerStarting

    try:
        names = list(device_names) or ggml_backend.default_worker_devices()
        by_name = {d.name: d for d in ggml_backend.devices()}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise RpcError(f"There is no device {missing[0]!r} on this machine",
                           hint=f"use one of: {', '.join(n for n in by_name if not n.startswith('RPC'))}")
        channel.send(WorkerStarting(endpoint, tuple(by_name[n] for n in names)))
        if threads <= 0:
            from app.chat.engine_core import default_threads

            threads = default_threads()
        ggml_backend.serve(endpoint, names, threads, cache_dir)
        # ggml's server returns only when it cannot listen (its reason went to the native output).
        raise RpcError(f"The RPC worker could not listen on {endpoint}",
                       hint="the port may be in use, or the address is not one of this machine's")
    except AppError as exc:
        error = exc if isinstance(exc, RpcError) else RpcError(exc.message, hint=exc.hint)
        channel.send(WorkerFailed(error))
