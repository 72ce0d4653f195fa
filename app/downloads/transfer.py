"""One HTTP GET appended to a `.part` file: Range resume, hashing as bytes arrive, stall detection.

Retrying, verifying and renaming into place belong to `job.py`; this module does a single attempt and
says whether a failure is worth retrying (`TransientError`) or not (an `AppError`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import ChecksumError, DownloadError, Stopped, TransientError
from app.downloads.checksum import Checksum, Hasher, HashPipe, hash_prefix
from app.downloads.disk import disk_full_error, is_disk_full
from app.downloads.ranges import to_single_stream
from app.downloads.writeback import Writeback

if TYPE_CHECKING:
    import httpx2

log = logging.getLogger("app.downloads")

CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
SOCKET_READ = 256 * 1024
# One write per socket read. An earlier measurement found 32 KiB writes faster; re-measured in session 5 on the
# same VM (1 GiB appended, page cache flushed first) 256 KiB writes took 0.55-0.64 s and 0.22-0.25 s CPU
# against 0.80-0.82 s and 0.32 s in 32 KiB ones, and the whole download 0.1-0.3 s less CPU.
WRITE_PIECE = SOCKET_READ


class StopToken:
    """Set from another thread to pause or cancel; it also unblocks a read stuck on a silent server."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._response: httpx2.Response | None = None
        self._children: list[StopToken] = []
        self.reason = ""

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    def stop(self, reason: str) -> None:
        with self._lock:
            if not self._event.is_set():
                self.reason = reason
            self._event.set()
            response = self._response
            children = list(self._children)
        if response is not None:
            _interrupt(response)
        for child in children:
            child.stop(self.reason)

    def child(self) -> StopToken:
        """A token that stops with this one and can also be stopped alone (one per connection of a file)."""
        token = StopToken()
        with self._lock:
            self._children.append(token)
            stopped = self._event.is_set()
        if stopped:
            token.stop(self.reason)
        return token

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when stopped meanwhile."""
        return self._event.wait(seconds)

    def raise_if_stopped(self) -> None:
        if self._event.is_set():
            raise Stopped(self.reason)

    def attach(self, response: httpx2.Response | None) -> None:
        with self._lock:
            self._response = response
            stopped = self._event.is_set()
        if stopped and response is not None:
            _interrupt(response)


def _interrupt(response: httpx2.Response) -> None:
    # Shutting the socket down wakes a recv() blocked in another thread; closing it from here would not.
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@dataclass
class PartFile:
    """The bytes of one file on disk so far, with the hash of exactly those bytes."""

    path: Path
    size: int
    checksum: Checksum
    offset: int
    hasher: Hasher
    lock_fd: int = -1  # holds an exclusive lock on the part while this process downloads it

    @classmethod
    def open(cls, path: Path, size: int, checksum: Checksum) -> PartFile:
        """Lock and hash what is on disk. Call `close()` when done with the part."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created at once: the library knows a split set whose next part has a `.part` is still arriving.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            lock_exclusive(fd, path)
            to_single_stream(path)  # left by a segmented download (a smaller file or a changed setting)
            have = os.fstat(fd).st_size
            part = cls(path, size, checksum, 0, checksum.new_hasher(size), fd)
            if have > size:
                log.warning("%s is larger than the file on the Hub; starting over", path.name)
                part.reset()
            elif have:
                log.info("resuming %s at %d of %d bytes (re-hashing the part on disk)", path.name, have, size)
                hash_prefix(part.hasher, path, have)
                part.offset = have
        except BaseException:
            os.close(fd)
            raise
        return part

    def close(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)  # releases the lock
            self.lock_fd = -1

    def reset(self) -> None:
        with open(self.path, "wb"):
            pass
        self.offset = 0
        self.hasher = self.checksum.new_hasher(self.size)

    @property
    def complete(self) -> bool:
        return self.offset == self.size

    def verified(self) -> bool:
        return self.complete and self.hasher.hexdigest() == self.checksum.hexdigest


def lock_exclusive(fd: int, path: Path) -> None:
    """Two processes (the app and the CLI) writing one part would corrupt it: the second one stops."""
    try:
        import fcntl
    except ImportError:  # Windows: its file locks are mandatory and would block our own writes
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise DownloadError(
            f"{path.name.removesuffix('.part')} is already being downloaded (by another item or program)",
            hint="wait for that download to finish",
        ) from None


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    stall: float = 30.0  # no byte for this long: the connection is dead even if the socket is not


StatusCheck = Callable[["httpx2.Response"], None]


@contextlib.contextmanager
def transport_errors(stop: StopToken) -> Iterator[None]:
    """httpx's timeouts and transport failures become TransientError (another try may help); a pause, which
    shuts the socket down under a read, wins over any of them."""
    import httpx2

    try:
        yield
    except TransientError:
        stop.raise_if_stopped()
        raise
    except httpx2.TimeoutException as exc:
        stop.raise_if_stopped()
        raise TransientError(f"the server stopped sending ({type(exc).__name__})") from exc
    except httpx2.TransportError as exc:
        stop.raise_if_stopped()
        raise TransientError(f"connection problem: {exc}") from exc


def fetch_once(
    client: httpx2.Client,
    url: str,
    headers: Mapping[str, str],
    part: PartFile,
    stop: StopToken,
    on_bytes: Callable[[int], None],
    raise_for_status: StatusCheck,
    timeouts: Timeouts = Timeouts(),
) -> None:
    """Append the rest of the file to `part`. Returns when the part holds `part.size` bytes."""
    import httpx2

    stop.raise_if_stopped()
    if part.complete:
        return
    request_headers = {**headers, "Accept-Encoding": "identity"}
    if part.offset:
        request_headers["Range"] = f"bytes={part.offset}-"
    timeout = httpx2.Timeout(timeouts.stall, connect=timeouts.connect)
    with transport_errors(stop), client.stream("GET", url, headers=request_headers, timeout=timeout) as response:
        stop.attach(response)
        try:
            _check_response(response, part, raise_for_status)
            _receive(response, part, stop, on_bytes, timeouts.stall)
        finally:
            stop.attach(None)
    stop.raise_if_stopped()
    if not part.complete:
        raise TransientError(f"the server ended the file early at byte {part.offset} of {part.size}")


def _check_response(response: httpx2.Response, part: PartFile, raise_for_status: StatusCheck) -> None:
    status = response.status_code
    if status in TRANSIENT_STATUS:
        raise TransientError(f"the server answered {status}", retry_after=retry_after(response))
    if status == 416 and part.offset:
        # Our part does not fit the file the server has: start again from the first byte.
        part.reset()
        raise TransientError("the server refused to resume this part; restarting it")
    if status >= 400:
        response.read()
        raise_for_status(response)
        raise DownloadError(f"The Hub answered {status} for {part.path.name.removesuffix('.part')}")
    if status == 206:
        start, total = content_range(response.headers.get("Content-Range", ""))
        if total is not None and total != part.size:
            raise DownloadError(
                f"The server has {total} bytes for {part.path.name.removesuffix('.part')}, "
                f"the Hub announced {part.size}",
                hint="the file may have changed on the Hub; remove the download and queue it again",
            )
        if start != part.offset:
            part.reset()
            raise TransientError(f"the server resumed at byte {start}, not {part.offset}; restarting")
    elif status == 200:
        if part.offset:
            log.info("server ignored the Range request for %s; downloading it again", part.path.name)
            part.reset()
    else:
        raise TransientError(f"unexpected answer {status} from the server")


def content_range(content_range: str) -> tuple[int | None, int | None]:
    """`bytes 100-999/1000` → (100, 1000); a part that is missing or unknown is None."""
    match = CONTENT_RANGE.match(content_range.strip())
    if match is None:
        return None, None
    total = match.group(3)
    return int(match.group(1)), int(total) if total.isdigit() else None


def retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        from email.utils import parsedate_to_datetime

        with contextlib.suppress(TypeError, ValueError, IndexError):
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    return None


def _receive(
    response: httpx2.Response, part: PartFile, stop: StopToken, on_bytes: Callable[[int], None], stall: float
) -> None:
    fd = os.open(part.path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    pipe = HashPipe(part.hasher)
    writeback = Writeback(part.path, lambda: [(0, part.offset)])
    try:
        if os.fstat(fd).st_size > part.offset:
            # Bytes past what we hashed cannot be trusted. Only truncate when there are some: on ext4 a
            # truncate to 0 marks the file for a synchronous flush on close (0.4 s per GiB here).
            os.ftruncate(fd, part.offset)
        os.lseek(fd, part.offset, os.SEEK_SET)
        sink = _PartSink(fd, part, pipe, on_bytes)
        sock = body_socket(response)
        if sock is None:
            _receive_chunks(response, sink, stop)
        else:
            _receive_from_socket(response, sock, sink, stop, stall)
    finally:
        try:
            writeback.close()
            pipe.close()  # the hash covers exactly the bytes written, whatever ended the loop
        finally:
            os.close(fd)


@dataclass
class _PartSink:
    """Appends received bytes to the part: written, then hashed, then counted, so the three always agree."""

    fd: int
    part: PartFile
    pipe: HashPipe
    on_bytes: Callable[[int], None]

    def add(self, chunk: bytes) -> None:
        self.check_room(len(chunk))
        _write_all(self.fd, chunk, self.part.path)
        self.pipe.feed(chunk)
        self._advance(len(chunk))

    def receive(self, sock: socket.socket, limit: int) -> int:
        """One read from `sock` of at most `limit` bytes, straight into the hash buffer; 0 at end of stream."""
        space = self.pipe.space(min(limit, SOCKET_READ))
        try:
            count = sock.recv_into(space)
        except TimeoutError as exc:
            raise TransientError("the server stopped sending (read timeout)") from exc
        except OSError as exc:
            raise TransientError(f"connection problem: {exc}") from exc
        if count:
            for at in range(0, count, WRITE_PIECE):
                _write_all(self.fd, space[at : min(count, at + WRITE_PIECE)], self.part.path)
            self.pipe.commit(count)
            self._advance(count)
        return count

    def check_room(self, count: int) -> None:
        if self.part.offset + count > self.part.size:
            raise ChecksumError(
                f"The server sent more than the {self.part.size} bytes the Hub announced for "
                f"{self.part.path.name.removesuffix('.part')}; the downloaded bytes were deleted",
                hint="press Retry to download it again",
            )

    def _advance(self, count: int) -> None:
        self.part.offset += count
        self.on_bytes(count)


def _receive_chunks(response: httpx2.Response, sink: _PartSink, stop: StopToken) -> None:
    """The general path: httpx decodes whatever framing and encoding the server chose."""
    encoded = response.headers.get("Content-Encoding", "identity").lower() not in {"", "identity"}
    # Without a content encoding the raw stream is the file: skip httpx's decoder layer.
    for chunk in response.iter_bytes() if encoded else response.iter_raw():
        if stop.stopped:
            raise Stopped(stop.reason)
        sink.add(chunk)


def body_socket(response: httpx2.Response) -> socket.socket | None:
    """The socket a plain HTTP/1.x body can be read from directly, or None where only httpx can read it.

    Reading a large body through httpx costs a Python round trip and two copies per 64 KiB; a model file
    is gigabytes. Direct reading is only sound when the socket carries nothing but the body bytes: HTTP/1.x
    (not HTTP/2 frames), a Content-Length (not chunked), no content encoding, and either no TLS or TLS done
    by the socket itself (a TLS-in-TLS proxy tunnel hands out the outer, still encrypted, socket).
    """
    headers = response.headers
    if response.http_version not in ("HTTP/1.1", "HTTP/1.0") or "Transfer-Encoding" in headers:
        return None
    if not headers.get("Content-Length", "").isdigit():
        return None
    if headers.get("Content-Encoding", "identity").lower() not in {"", "identity"}:
        return None
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    sock = stream.get_extra_info("socket")
    if not isinstance(sock, socket.socket):
        return None
    if stream.get_extra_info("ssl_object") is not None and not isinstance(sock, ssl.SSLSocket):
        return None
    return sock


def _receive_from_socket(
    response: httpx2.Response, sock: socket.socket, sink: _PartSink, stop: StopToken, stall: float
) -> None:
    remaining = int(response.headers["Content-Length"])
    sink.check_room(remaining)
    # The first chunk comes through httpx: it holds every body byte that arrived with the headers (h11
    # hands over its whole buffer in one event), so what follows on the socket is the rest of the body.
    # Leaving the body unfinished in h11's eyes also makes httpx close this connection instead of reusing it.
    chunks = response.iter_raw()  # held until the end: dropping it would close the response, and the socket
    first = next(chunks, b"")
    if first:
        sink.add(first)
        remaining -= len(first)
    sock.settimeout(stall)
    while remaining > 0:
        if stop.stopped:
            raise Stopped(stop.reason)
        count = sink.receive(sock, remaining)
        if not count:
            return  # the server closed early: the caller sees a short part
        remaining -= count


def _write_all(fd: int, data: bytes | memoryview, path: Path) -> None:
    view = memoryview(data)
    written = 0
    try:
        while written < len(view):
            written += os.write(fd, view[written:])
    except OSError as exc:
        if written:
            # Keep the file equal to the hashed prefix: drop the half-written chunk.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_CUR) - written)
        if is_disk_full(exc):
            raise disk_full_error(path) from exc
        raise
