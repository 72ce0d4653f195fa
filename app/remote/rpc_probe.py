"""A pre-flight look at a llama.cpp RPC worker, in Python, before llama.cpp is told about it.

llama.cpp aborts the whole process when a worker cannot be reached, speaks another protocol version or drops
the connection, and its connect has no timeout. So the engine asks each worker here first, over a plain
socket with timeouts: the protocol version (HELLO), the number of devices and each device's free and total
memory. Anything wrong becomes an RpcError a user can act on.

The wire format (ggml-rpc, protocol 7): a request is one command byte, a little-endian u64 payload size and
the payload; a reply is a u64 size and the payload. A worker serves one client at a time: a second client's
connect succeeds (the listen backlog) but nothing answers its HELLO, which is how a busy worker shows.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from app.core.errors import RpcError

# The protocol the bundled llama.cpp speaks (its ggml-rpc.h): the major must match exactly and the worker's
# minor may not be newer.
PROTOCOL_MAJOR = 7
PROTOCOL_MINOR = 0

CMD_GET_DEVICE_MEMORY = 11
CMD_HELLO = 14
CMD_DEVICE_COUNT = 15
CONN_CAPS_SIZE = 24  # transport capabilities (RDMA negotiation); all zero asks for plain TCP
MAX_DEVICES = 64  # a sane bound on what a worker may claim
DEFAULT_PORT = 50052  # ggml's rpc-server default
CONNECT_TIMEOUT_S = 3.0
REPLY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class RpcDevice:
    index: int  # the device's number on its worker
    free: int  # bytes
    total: int


@dataclass(frozen=True, slots=True)
class RpcWorker:
    endpoint: str  # host:port, as llama.cpp is given it
    version: tuple[int, int, int]
    devices: tuple[RpcDevice, ...]


def parse_endpoint(text: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:port`); the port defaults to ggml's 50052."""
    value = text.strip()
    host, port_text = value, ""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    port = DEFAULT_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise RpcError(f"{text!r} is not a worker address", hint="write it as host:port, e.g. 192.168.1.20:50052")
        port = int(port_text)
    if not host:
        raise RpcError(f"{text!r} is not a worker address", hint="write it as host:port, e.g. 192.168.1.20:50052")
    return host, port


def parse_endpoints(text: str) -> list[str]:
    """`a:1,b:2` → normalized `host:port` strings, duplicates refused (one worker serves one client)."""
    out: list[str] = []
    for item in (part for part in text.split(",") if part.strip()):
        host, port = parse_endpoint(item)
        endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if endpoint in out:
            raise RpcError(f"The worker {endpoint} is listed twice", hint="a worker serves one client at a time")
        out.append(endpoint)
    return out


def probe(endpoint: str, *, connect_timeout: float = CONNECT_TIMEOUT_S,
          reply_timeout: float = REPLY_TIMEOUT_S) -> RpcWorker:
    """Version and devices of the worker at `endpoint`; RpcError for anything llama.cpp would abort on."""
    host, port = parse_endpoint(endpoint)
    with _connected(endpoint, host, port, connect_timeout) as sock:
        sock.settimeout(reply_timeout)
        talk = _Conversation(sock, endpoint)
        version = talk.hello()
        count = talk.device_count()
        devices = tuple(talk.device_memory(i) for i in range(count))
    return RpcWorker(endpoint, version, devices)


def probe_all(endpoints: Sequence[str], **timeouts: float) -> list[RpcWorker]:
    return [probe(endpoint, **timeouts) for endpoint in endpoints]


@contextlib.contextmanager
def _connected(endpoint: str, host: str, port: int, timeout: float) -> Iterator[socket.socket]:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as exc:
        raise RpcError(f"The RPC worker {endpoint} did not accept a connection within {timeout:g} s",
                       hint="check the address, that the worker runs, and any firewall between") from exc
    except OSError as exc:
        raise RpcError(f"Cannot reach the RPC worker {endpoint}: {exc.strerror or exc}",
                       hint="start it with 'gguf-studio rpc-worker' on that machine, and check the address") from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        yield sock
    finally:
        with contextlib.suppress(OSError):
            sock.close()


class _Conversation:
    def __init__(self, sock: socket.socket, endpoint: str) -> None:
        self._sock = sock
        self._endpoint = endpoint
        self._stage = "the handshake"

    def hello(self) -> tuple[int, int, int]:
        reply = self._call(CMD_HELLO, bytes(CONN_CAPS_SIZE), 4 + CONN_CAPS_SIZE, busy_hint=True)
        major, minor, patch = reply[0], reply[1], reply[2]
        if major != PROTOCOL_MAJOR or minor > PROTOCOL_MINOR:
            raise RpcError(
                f"The RPC worker {self._endpoint} speaks protocol {major}.{minor}.{patch}; this app needs "
                f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}.x",
                hint="run the same llama.cpp version on both sides (gguf-studio rpc-worker of this version)",
            )
        return major, minor, patch

    def device_count(self) -> int:
        self._stage = "the device count"
        (count,) = struct.unpack("<I", self._call(CMD_DEVICE_COUNT, b"", 4))
        if not 0 < count <= MAX_DEVICES:
            raise RpcError(f"The RPC worker {self._endpoint} reports {count} devices",
                           hint="restart the worker; it must offer at least one device")
        return int(count)

    def device_memory(self, index: int) -> RpcDevice:
        self._stage = f"the memory of device {index}"
        free, total = struct.unpack("<QQ", self._call(CMD_GET_DEVICE_MEMORY, struct.pack("<I", index), 16))
        return RpcDevice(index, int(free), int(total))

    def _call(self, command: int, payload: bytes, reply_size: int, *, busy_hint: bool = False) -> bytes:
        try:
            self._sock.sendall(struct.pack("<BQ", command, len(payload)) + payload)
            (size,) = struct.unpack("<Q", self._read(8))
            if size != reply_size:
                raise RpcError(
                    f"The RPC worker {self._endpoint} answered {self._stage} with {size} bytes, not {reply_size}",
                    hint="it runs another llama.cpp version (or is not an RPC worker): run the same version "
                         "on both sides",
                )
            return self._read(reply_size)
        except TimeoutError as exc:
            if busy_hint:
                raise RpcError(f"The RPC worker {self._endpoint} accepted the connection but did not answer",
                               hint="it is probably serving another client (a worker serves one at a time), "
                                    "or it is not an RPC worker") from exc
            raise RpcError(f"The RPC worker {self._endpoint} did not answer {self._stage} in time",
                           hint="check the worker and the network") from exc
        except ConnectionError as exc:  # reset or broken pipe: what a worker that hangs up at once causes
            raise self._closed() from exc
        except OSError as exc:
            raise RpcError(f"The RPC worker {self._endpoint} dropped the connection during {self._stage}: "
                           f"{exc.strerror or exc}", hint="check the worker's own output") from exc

    def _closed(self) -> RpcError:
        return RpcError(f"The RPC worker {self._endpoint} closed the connection during {self._stage}",
                        hint="it may run another protocol version (run the same llama.cpp on both sides), or "
                             "it is not an RPC worker")

    def _read(self, size: int) -> bytes:
        chunks: list[bytes] = []
        left = size
        while left:
            chunk = self._sock.recv(min(left, 65536))
            if not chunk:
                raise self._closed()
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
