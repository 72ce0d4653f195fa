"""Byte windows over the start of a GGUF source: bytes in memory, a local file, or ranged fetches.

The parser only ever reads a prefix [0, end) of the file. `ensure(end)` makes that prefix available or
raises `GGUFError`; file and ranged windows read what is missing in as few requests as they can.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from app.core.errors import GGUFError

Data = bytes | bytearray | memoryview
Fetch = Callable[[int, int], bytes]
"""`fetch(start, end_exclusive) -> bytes`: exactly that byte range of the remote file."""

FIRST_CHUNK = 2 * 1024 * 1024  # most headers fit; big-vocabulary ones need one more request
GROWTH = 4  # a later request covers at least GROWTH times what is already held


class Window:
    """A prefix of the source held in memory. `data` supports the buffer protocol (struct, re)."""

    data: Data
    size: int  # total bytes of the source (the file size)

    def ensure(self, end: int, hint: int = 0) -> None:
        """Make bytes [0, end) available; `hint` is where the caller expects to read up to soon."""
        raise NotImplementedError

    def tail(self, offset: int) -> Window:
        """A window of the same source that starts at `offset` of this one: the parser moves on to it when
        a skipped value leaves a long stretch it never needs to read."""
        raise NotImplementedError

    def grow_target(self, end: int, hint: int, first_chunk: int) -> int | None:
        """How far a growing window should read to cover [0, end): None when it already does. Growing
        geometrically keeps a remote header to a few range requests and a local one to a few reads."""
        held = len(self.data)
        if end <= held:
            return None
        if end > self.size:
            raise self.truncated(end, held)
        return min(self.size, max(end, hint, first_chunk, held * GROWTH))

    def truncated(self, end: int, at: int) -> GGUFError:
        return GGUFError(
            f"file ends early: {end - at} bytes needed but only {max(self.size - at, 0)} left",
            offset=at,
            hint="the file is truncated or damaged; download it again",
        )


class BufferWindow(Window):
    """A buffer that is all there is of the source (bytes in memory).

    `size` may be larger than the buffer when only the first bytes of a file were given; reading past
    the buffer is then an error, but tensor data may still lie within `size`.
    """

    def __init__(self, data: Data, size: int | None = None):
        self.data = data
        self.available = len(data)
        self.size = self.available if size is None else size
        if self.size < self.available:
            raise GGUFError(f"declared file size {self.size} is smaller than the {self.available} bytes given")

    def ensure(self, end: int, hint: int = 0) -> None:
        if end > self.available:
            raise self.truncated(end, self.available)

    def tail(self, offset: int) -> Window:
        return BufferWindow(memoryview(self.data)[min(offset, self.available) :], self.size - offset)


class RangedWindow(Window):
    """A growing prefix of a remote file, fetched with byte-range requests.

    The first request takes FIRST_CHUNK bytes; each later one takes at least GROWTH times what is held
    (or the caller's estimate, if larger), so a header of H bytes needs about log_GROWTH(H / FIRST_CHUNK)
    requests however it is laid out.
    """

    def __init__(self, fetch: Fetch, size: int, first_chunk: int = FIRST_CHUNK):
        if size < 0:
            raise GGUFError(f"invalid remote file size {size}")
        self._fetch = fetch
        self.size = size
        self.data: bytearray = bytearray()
        self.requests = 0
        self.first_chunk = max(first_chunk, 64)

    def _get(self, start: int, end: int) -> bytes:
        chunk = self._fetch(start, end)
        self.requests += 1
        if len(chunk) != end - start:
            raise GGUFError(
                f"reading bytes {start}-{end - 1} returned {len(chunk)} bytes instead of {end - start}",
                offset=start,
                hint="the file changed while it was read, or the server ignores range requests",
            )
        return chunk

    def ensure(self, end: int, hint: int = 0) -> None:
        target = self.grow_target(end, hint, self.first_chunk)
        if target is None:
            return
        held = len(self.data)
        # a new buffer rather than growing in place: numpy views of the old one may still exist
        self.data = self.data + self._get(held, target)

    def tail(self, offset: int) -> Window:
        fetch = self._fetch

        def shifted(start: int, end: int) -> bytes:
            return fetch(start + offset, end + offset)

        return RangedWindow(shifted, self.size - offset, self.first_chunk)


class FileWindow(Window):
    """A growing prefix of a local file, read straight into one buffer (grown like RangedWindow's).

    Plain reads, not a memory map: a file truncated by another process while mapped would kill the
    process with SIGBUS; a read just comes back short and becomes a GGUFError.
    """

    def __init__(self, file: io.BufferedIOBase, size: int, first_chunk: int = FIRST_CHUNK, origin: int = 0):
        self._file = file
        self.size = size
        self.data: Data = b""
        self.first_chunk = max(first_chunk, 64)
        self._origin = origin  # where byte 0 of this window lies in the file

    def tail(self, offset: int) -> Window:
        return FileWindow(self._file, self.size - offset, self.first_chunk, self._origin + offset)

    def ensure(self, end: int, hint: int = 0) -> None:
        target = self.grow_target(end, hint, self.first_chunk)
        if target is None:
            return
        held = len(self.data)
        # Not `bytearray(target)`: zero-filling and copying tens of MB holds the GIL, and the GUI thread waits
        # while a worker reads a big header. numpy allocates without filling and copies without the GIL.
        import numpy as np

        buffer = np.empty(target, dtype=np.uint8)
        np.copyto(buffer[:held], np.frombuffer(self.data, dtype=np.uint8))
        grown = memoryview(buffer.data)
        with memoryview(grown) as view:
            self._file.seek(self._origin + held)
            filled = held
            while filled < target:
                n = self._file.readinto(view[filled:])
                if not n:
                    raise GGUFError(
                        f"the file ended at byte {filled} while {target} bytes were expected",
                        offset=filled,
                        hint="the file changed while it was read",
                    )
                filled += n
        self.data = grown
