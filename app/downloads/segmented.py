"""One file over several ranged connections at once, each resumable, hashed in file order as it fills.

Per-connection limits (CDN pacing, long-distance TCP windows, shaping) cap one stream far below the link; N
streams over disjoint ranges add up. The `.part` is preallocated and written at offsets; `ranges.py` keeps the
record of what is on disk (saved about once a second and whenever a connection stops), so a crash resumes
every segment from its own bytes. Each connection retries on its own (back-off, Retry-After, stalls, short
bodies) exactly as a single stream does. A file starts on a few connections and gets more only while they
raise the combined rate (`ramp.py`), and on a link fast enough one request takes a run of pieces
(`segments.py`); the disk writes are queued as bytes land (`writeback.py`), so the fsync
before the rename has little left. Verifying and installing stay with `job.py`.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.errors import Stopped
from app.downloads import ranges
from app.downloads.checksum import hash_prefix
from app.downloads.disk import disk_full_error, is_disk_full
from app.downloads.items import SegmentProgress
from app.downloads.prefix_hash import PrefixHasher
from app.downloads.ramp import FAST_ENOUGH, Ramp
from app.downloads.ranged import RangeIgnored, SegmentTarget, fetch_range
from app.downloads.remote import RemoteFile
from app.downloads.retry import RetryPolicy, with_retries
from app.downloads.segments import Board, Segment
from app.downloads.transfer import SOCKET_READ, StopToken, Timeouts, lock_exclusive
from app.downloads.writeback import Writeback

if TYPE_CHECKING:
    import httpx2

log = logging.getLogger("app.downloads")

TICK = 0.25  # seconds between progress reports
RAMP_TICK = 0.05  # seconds between looks at the rate while the connection count may still change
SAVE_EVERY = 0.5  # seconds between saves of the range record while bytes arrive (what a SIGKILL can cost)

__all__ = ["RangeIgnored", "SegmentOptions", "fetch_segmented"]


@dataclass(frozen=True, slots=True)
class SegmentOptions:
    connections: int
    min_steal: int  # a tail shorter than twice this stays with its connection (unless that one goes silent)
    piece: int  # bytes per request, handed out in file order (segments.piece_size)
    idle_steal: float  # seconds without a byte after which a connection's whole tail is handed over
    hash_in_flight: bool = True  # False: one pass over the finished part (kept to measure the difference)
    start: int = 0  # connections to begin with, doubled while that pays (ramp.py); 0: all of them at once
    fast_link: float = FAST_ENOUGH  # combined bytes/s from which requests take runs of pieces (0: from the first)


def fetch_segmented(
    client: httpx2.Client,
    remote: RemoteFile,
    part: Path,
    headers: dict[str, str],
    stop: StopToken,
    on_progress: Callable[[int], None],
    on_retry: Callable[[str, float], None] | None,
    on_segments: Callable[[tuple[SegmentProgress, ...]], None] | None,
    raise_for_status: Callable[[httpx2.Response], None],
    options: SegmentOptions,
    retry: RetryPolicy,
    timeouts: Timeouts,
) -> bool:
    """Fill `part` with the whole file; True when it hashes to the Hub's checksum. The record of done ranges
    stays beside the part until the caller installs it (`ranges.discard`). Raises RangeIgnored (nothing of
    the part is lost: the contiguous prefix is kept for a single stream), Stopped, or an AppError."""
    part.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(part, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        lock_exclusive(lock_fd, part)
        done = _restore(part, lock_fd, remote)
        board = Board(
            remote.size,
            done,
            options.connections,
            min_steal=max(options.min_steal, SOCKET_READ),
            idle_steal=options.idle_steal,
            piece=options.piece,
        )
        run = _Run(client, remote, part, headers, board, stop.child(), raise_for_status, retry, timeouts, on_retry)
        return run.go(options, on_progress, on_segments)
    finally:
        os.close(lock_fd)


def _restore(part: Path, fd: int, remote: RemoteFile) -> list[ranges.Span]:
    """What is already on disk; the record is saved before the file grows, so a crash never finds a
    full-length part without one."""
    have = os.fstat(fd).st_size
    done = ranges.load(part, remote.size, remote.checksum)
    if done is None:
        done = [(0, have)] if 0 < have <= remote.size else []  # a single-stream part: its prefix counts
        if have > remote.size:
            os.ftruncate(fd, 0)
    else:
        done = ranges.merge((a, min(b, have)) for a, b in done)  # never trust a range past the file's end
    if done:
        log.info("resuming %s: %d of %d bytes on disk", part.name, ranges.covered(done), remote.size)
    ranges.save(part, remote.size, remote.checksum, done)
    _preallocate(fd, remote.size, part)
    return done


def _preallocate(fd: int, size: int, part: Path) -> None:
    """Reserve the file's space at once (a full disk fails now, not at 97 %); sparse where that is not possible."""
    if os.fstat(fd).st_size >= size:
        return
    try:
        if not _fallocate(fd, size):
            os.ftruncate(fd, size)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(part) from exc
        raise


def _fallocate(fd: int, size: int) -> bool:
    """Linux fallocate(2), which fails where unsupported (posix_fallocate would write zeros instead)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fallocate = libc.fallocate
    except (OSError, AttributeError):
        return False
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    if fallocate(fd, 0, 0, size) == 0:
        return True
    err = ctypes.get_errno()
    if err in (28, 122):  # ENOSPC, EDQUOT
        raise OSError(err, os.strerror(err))
    return False


class _Run:
    """The connections of one file and the monitor that reports, saves and ends them."""

    def __init__(
        self,
        client: httpx2.Client,
        remote: RemoteFile,
        part: Path,
        headers: dict[str, str],
        board: Board,
        group: StopToken,
        raise_for_status: Callable[[httpx2.Response], None],
        retry: RetryPolicy,
        timeouts: Timeouts,
        on_retry: Callable[[str, float], None] | None,
    ) -> None:
        self.client, self.remote, self.part, self.headers = client, remote, part, headers
        self.board, self.group, self.raise_for_status = board, group, raise_for_status
        self.retry, self.timeouts, self.on_retry = retry, timeouts, on_retry
        self.error: BaseException | None = None
        self._error_lock = threading.Lock()
        self.on_written: Callable[[int, memoryview], None] | None = None  # the prefix hasher's offer

    def go(
        self,
        options: SegmentOptions,
        on_progress: Callable[[int], None],
        on_segments: Callable[[tuple[SegmentProgress, ...]], None] | None,
    ) -> bool:
        board, remote = self.board, self.remote
        hasher = None
        if options.hash_in_flight:
            hasher = PrefixHasher(
                self.part, remote.checksum.new_hasher(remote.size), remote.size, board.frontier, board.cond
            )
            self.on_written = hasher.offer
        ramp = Ramp.starting(options.start or options.connections, options.connections)
        ramp.fast_enough = options.fast_link
        board.set_limit(ramp.target)
        if options.fast_link <= 0:
            board.merge_runs()
        workers: list[threading.Thread] = []
        self._staff(workers, ramp.target)
        writeback = Writeback(self.part, board.done_spans)
        saved = board.done_spans()
        last_save = time.monotonic()
        try:
            # Idle connections wait in `take` for a tail to steal; a stop (pause, cancel) ends them from here.
            last_report = 0.0
            while not self.group.stopped and not board.complete() and any(w.is_alive() for w in workers):
                board.wait(TICK if ramp.settled else RAMP_TICK)
                done, now = board.done_bytes(), time.monotonic()
                if not ramp.settled:
                    wanted = ramp.observe(now, done)
                    if wanted != board.limit:
                        board.set_limit(wanted)
                        self._staff(workers, wanted)
                    if ramp.fast and not board.runs:
                        board.merge_runs()
                if now - last_report < TICK / 2:
                    continue
                last_report = now
                on_progress(done)
                if on_segments is not None:
                    on_segments(board.snapshot())
                if time.monotonic() - last_save >= SAVE_EVERY:
                    saved = self._save(saved)
                    last_save = time.monotonic()
        finally:
            self.group.stop("finished")
            board.close()
            for worker in workers:
                worker.join()
            writeback.close()
            self._save(saved)
            if on_segments is not None:
                on_segments(())
            if not board.complete() and hasher is not None:
                hasher.abandon()
        if self.error is not None:
            if isinstance(self.error, RangeIgnored):
                log.info("the server ignores Range for %s; fetching it as one stream", remote.filename)
                ranges.to_single_stream(self.part)
            raise self.error
        if not board.complete():
            raise Stopped(self.group.reason)  # only a stop ends the connections before the file is whole
        on_progress(remote.size)
        log.info(
            "%s: %d of up to %d connections, %d tails handed over%s",
            remote.filename,
            ramp.target,
            options.connections,
            board.steals,
            ", runs of pieces per request" if board.runs else "",
        )
        if hasher is not None:
            digest = hasher.finish()
        else:
            second = remote.checksum.new_hasher(remote.size)
            hash_prefix(second, self.part, remote.size)
            digest = second.hexdigest()
        return digest == remote.checksum.hexdigest

    def _staff(self, workers: list[threading.Thread], count: int) -> None:
        """Run a connection for each index below `count` (one retired earlier starts again)."""
        for index in range(count):
            if index < len(workers) and workers[index].is_alive():
                continue
            worker = threading.Thread(target=self._work, args=(index,), name=f"download-segment-{index}", daemon=True)
            if index < len(workers):
                workers[index] = worker
            else:
                workers.append(worker)
            worker.start()

    def _save(self, saved: list[ranges.Span]) -> list[ranges.Span]:
        spans = self.board.done_spans()
        if spans != saved:
            try:
                ranges.save(self.part, self.remote.size, self.remote.checksum, spans)
            except OSError as exc:  # the bytes are still on disk; the next save tries again
                log.warning("could not save the ranges of %s: %s", self.part.name, exc)
                return saved
        return spans

    def _work(self, index: int) -> None:
        token = self.group.child()
        target = SegmentTarget(self.part, self.remote.size, on_written=self.on_written)
        buffer = bytearray(SOCKET_READ)
        try:
            target.open()
            while (seg := self.board.take(index)) is not None:
                try:

                    def attempt(seg: Segment = seg) -> None:
                        self.board.mark(seg, "active")
                        fetch_range(
                            self.client,
                            self.remote.url,
                            self.headers,
                            target,
                            self.board,
                            seg,
                            token,
                            self.raise_for_status,
                            self.timeouts,
                            buffer,
                        )

                    def retrying(message: str, delay: float, seg: Segment = seg) -> None:
                        self.board.mark(seg, "retrying")
                        if self.on_retry is not None:
                            self.on_retry(f"connection {index + 1}: {message}", delay)

                    with_retries(attempt, self.retry, token, retrying, progress=partial(_position, seg))
                finally:
                    self.board.release(seg)
        except Stopped:
            pass
        except BaseException as exc:
            with self._error_lock:
                if self.error is None:
                    self.error = exc
            self.group.stop("failed")
            self.board.close()
        finally:
            with contextlib.suppress(OSError):
                target.close()


def _position(seg: Segment) -> int:
    return seg.pos
