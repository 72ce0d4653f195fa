"""This machine as a llama.cpp RPC worker: ggml's RPC server in a child of the one process layer.

The worker has no authentication and no encryption (llama.cpp's own warning): it listens on 127.0.0.1
unless the user explicitly allows a LAN address. The app knows it is up once our own probe gets an answer.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass

from app.core.errors import ConfigError, RpcError
from app.process.outcome import Outcome
from app.process.supervisor import Supervisor
from app.remote import rpc_probe
from app.remote.ggml_backend import Device

ENTRY = "app.workers.rpc_worker"
SUBJECT = "the RPC worker"
SECURITY_WARNING = (
    "warning: an RPC worker has no authentication and no encryption. Anyone who can reach this port can run "
    "code on its devices and read what it computes. Use it only on a network you trust, never on the internet."
)
START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class WorkerStarting:
    """Sent by the child just before ggml's server starts listening."""

    endpoint: str
    devices: tuple[Device, ...]


@dataclass(frozen=True, slots=True)
class WorkerFailed:
    error: RpcError


def check_host(host: str, allow_lan: bool) -> None:
    if _loopback(host) or allow_lan:
        return
    raise ConfigError(f"Listening on {host} would let other machines use this worker without any password",
                      hint="add --allow-lan if this network is trusted, or keep the default 127.0.0.1")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class WorkerProcess:
    """Starts the worker child and waits until it answers a probe; `wait` blocks until it ends."""

    def __init__(self, host: str, port: int, devices: tuple[str, ...] = (), threads: int = 0,
                 cache_dir: str | None = None) -> None:
        self.endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._args = (self.endpoint, devices, threads, cache_dir)
        self.started: WorkerStarting | None = None
        self.failure: RpcError | None = None
        self.outcome: Outcome | None = None
        self._changed = threading.Event()
        self._child: Supervisor | None = None

    def start(self, timeout: float = START_TIMEOUT_S) -> rpc_probe.RpcWorker:
        self._child = Supervisor(ENTRY, self._args, subject=SUBJECT, on_message=self._on_message,
                                 on_exit=self._on_exit)
        self._child.start()
        deadline = time.monotonic() + timeout
        while self.started is None:
            self._raise_if_ended()
            if time.monotonic() > deadline:
                self.stop()
                raise RpcError("The RPC worker did not start in time", hint="see the log for details")
            self._changed.wait(0.1)
        last: RpcError | None = None
        while time.monotonic() < deadline:
            self._raise_if_ended()
            try:
                return rpc_probe.probe(self.endpoint, connect_timeout=1.0, reply_timeout=5.0)
            except RpcError as exc:
                last = exc
                self._changed.wait(0.1)
        self.stop()
        raise RpcError(f"The RPC worker on {self.endpoint} never answered", hint=last.hint if last else "")

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def alive(self) -> bool:
        return self._child is not None and self._child.alive

    def wait(self, timeout: float | None = None) -> Outcome | None:
        return self._child.wait(timeout) if self._child is not None else None

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()

    def _raise_if_ended(self) -> None:
        if self.failure is not None:
            self.stop()
            raise self.failure
        if self.outcome is not None:
            raise RpcError(self.outcome.sentence, hint=self.outcome.hint)

    def _on_message(self, message: object) -> None:
        if isinstance(message, WorkerStarting):
            self.started = message
        elif isinstance(message, WorkerFailed):
            self.failure = message.error
        self._changed.set()

    def _on_exit(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self._changed.set()
