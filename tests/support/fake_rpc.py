"""Small socket servers on 127.0.0.1 that speak (or break) ggml-rpc's wire format, for the RPC probe's tests:
a worker of any protocol version and memory, one that hangs up, one that never answers."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator


def _recv(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def request(conn: socket.socket) -> tuple[int, bytes]:
    command, size = struct.unpack("<BQ", _recv(conn, 9))
    return command, _recv(conn, size)


def reply(conn: socket.socket, payload: bytes) -> None:
    conn.sendall(struct.pack("<Q", len(payload)) + payload)


def worker(version: tuple[int, int, int], memory: list[tuple[int, int]]) -> Callable[[socket.socket], None]:
    def serve(conn: socket.socket) -> None:
        command, payload = request(conn)
        assert command == 14 and payload == bytes(24)
        reply(conn, bytes([*version, 0]) + bytes(24))
        while True:
            try:
                command, payload = request(conn)
            except EOFError:
                return
            if command == 15:
                reply(conn, struct.pack("<I", len(memory)))
            elif command == 11:
                (device,) = struct.unpack("<I", payload)
                reply(conn, struct.pack("<QQ", *memory[device]))
            else:
                return

    return serve


@contextlib.contextmanager
def fake_server(serve: Callable[[socket.socket], None]) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # closing a socket does not wake a thread blocked in accept(): poll the flag
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with conn, contextlib.suppress(OSError, EOFError):
                serve(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(5)
