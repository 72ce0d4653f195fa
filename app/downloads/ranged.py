"""One ranged GET for one segment: bytes [pos, end) of the file written at their offsets in the `.part`.

The single-stream counterpart is `transfer.fetch_once`; this one does not hash (the prefix hasher reads the
bytes back in file order) and stops as soon as its segment is finished, which may be early when an idle
connection took over the tail. A server that answers 200 to a Range request raises `RangeIgnored`: the file
is then fetched as one stream.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import DownloadError, Stopped, TransientError
from app.downloads.disk import disk_full_error, is_disk_full
from app.downloads.segments import Board, Segment
from app.downloads.transfer import (
    SOCKET_READ,
    TRANSIENT_STATUS,
    StopToken,
    Timeouts,
    body_socket,
    content_range,
    retry_after,
    transport_errors,
)

if TYPE_CHECKING:
    import httpx2

# One write per socket read: 1 GiB in 256 KiB pwrites into the preallocated part took 0.38-0.40 s (0.16 s CPU)
# against 0.62-0.80 s (0.25 s CPU) in 32 KiB ones, and each write is a GIL round trip the GUI thread waits on.
WRITE = SOCKET_READ


class RangeIgnored(Exception):
    """The server sent the whole file for a Range request: it cannot serve segments."""


@dataclass
class SegmentTarget:
    """Where one connection writes: its own descriptor of the (locked, preallocated) part file."""

    path: Path
    size: int
    fd: int = -1
    on_written: Callable[[int, memoryview], None] | None = None  # (offset, bytes) once on disk and counted

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".part")

    def open(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | getattr(os, "O_BINARY", 0))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def write_at(self, data: memoryview, offset: int) -> None:
        written = 0
        while written < len(data):
            if _PWRITE is not None:
                written += _PWRITE(self.fd, data[written:], offset + written)
            else:  # Windows: a descriptor of its own per connection makes seek-then-write safe
                os.lseek(self.fd, offset + written, os.SEEK_SET)
                written += os.write(self.fd, data[written:])


_PWRITE = getattr(os, "pwrite", None)


def fetch_range(
    client: httpx2.Client,
    url: str,
    headers: dict[str, str],
    target: SegmentTarget,
    board: Board,
    seg: Segment,
    stop: StopToken,
    raise_for_status: Callable[[httpx2.Response], None],
    timeouts: Timeouts,
    buffer: bytearray,
) -> None:
    """Fetch the rest of `seg`; returns when it is finished, raises TransientError when another try may help."""
    import httpx2

    stop.raise_if_stopped()
    if seg.finished:
        return
    request_headers = {**headers, "Accept-Encoding": "identity", "Range": f"bytes={seg.pos}-{seg.end - 1}"}
    timeout = httpx2.Timeout(timeouts.stall, connect=timeouts.connect)
    with transport_errors(stop), client.stream("GET", url, headers=request_headers, timeout=timeout) as response:
        stop.attach(response)
        try:
            _check(response, target, seg, raise_for_status)
            _receive(response, target, board, seg, stop, timeouts.stall, buffer)
        finally:
            stop.attach(None)
    stop.raise_if_stopped()
    if not seg.finished:
        raise TransientError(f"the server ended a segment early at byte {seg.pos}")


def _check(
    response: httpx2.Response, target: SegmentTarget, seg: Segment, raise_for_status: Callable[[httpx2.Response], None]
) -> None:
    status = response.status_code
    if status in TRANSIENT_STATUS:
        raise TransientError(f"the server answered {status}", retry_after=retry_after(response))
    if status == 200:
        raise RangeIgnored(target.name)
    if status == 416:
        raise TransientError(f"the server refused the byte range from {seg.pos}")
    if status >= 400:
        response.read()
        raise_for_status(response)
        raise DownloadError(f"The Hub answered {status} for {target.name}")
    if status != 206:
        raise TransientError(f"unexpected answer {status} from the server")
    start, total = content_range(response.headers.get("Content-Range", ""))
    if total is not None and total != target.size:
        raise DownloadError(
            f"The server has {total} bytes for {target.name}, the Hub announced {target.size}",
            hint="the file may have changed on the Hub; remove the download and queue it again",
        )
    if start != seg.pos:
        raise TransientError(f"the server sent the range from byte {start}, not {seg.pos}")


def _receive(
    response: httpx2.Response,
    target: SegmentTarget,
    board: Board,
    seg: Segment,
    stop: StopToken,
    stall: float,
    buffer: bytearray,
) -> None:
    sock = body_socket(response)
    if sock is None:
        for chunk in response.iter_raw():
            if stop.stopped:
                raise Stopped(stop.reason)
            if not _store(target, board, seg, memoryview(chunk)):
                return
        return
    remaining = int(response.headers["Content-Length"])
    # As in transfer.py: the first chunk holds the body bytes that came with the headers; the rest is read
    # straight from the socket. Leaving the body unread makes httpx close the connection, not reuse it.
    chunks = response.iter_raw()
    first = next(chunks, b"")
    if first:
        remaining -= len(first)
        if not _store(target, board, seg, memoryview(first)):
            return
    sock.settimeout(stall)
    view = memoryview(buffer)
    while remaining > 0 and seg.end - seg.pos > 0:
        if stop.stopped:
            raise Stopped(stop.reason)
        try:
            count = sock.recv_into(view[: min(len(view), remaining, seg.end - seg.pos)])
        except TimeoutError as exc:
            raise TransientError("the server stopped sending (read timeout)") from exc
        except OSError as exc:
            raise TransientError(f"connection problem: {exc}") from exc
        if not count:
            return  # closed early: the caller sees an unfinished segment
        remaining -= count
        if not _store(target, board, seg, view[:count]):
            return


def _store(target: SegmentTarget, board: Board, seg: Segment, data: memoryview) -> bool:
    """Write what the segment still wants of `data` at its offset; False once the segment is finished."""
    allowed = board.reserve(seg, len(data))
    if allowed:
        offset = seg.pos
        try:
            for at in range(0, allowed, WRITE):
                target.write_at(data[at : min(allowed, at + WRITE)], offset + at)
        except OSError as exc:
            board.unreserve(seg, allowed)
            if is_disk_full(exc):
                raise disk_full_error(target.path) from exc
            raise
        board.advance(seg, allowed)
        if target.on_written is not None:
            target.on_written(offset, data[:allowed])
    return allowed == len(data) and not seg.finished
