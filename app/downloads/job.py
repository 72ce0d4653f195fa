"""Download one queue item to verified files: resolve, check space, transfer, retry, verify, rename."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.core.atomic import fsync_dir
from app.core.errors import ChecksumError
from app.downloads import ranges
from app.downloads.checksum import hash_prefix
from app.downloads.disk import DEFAULT_MARGIN, disk_full_error, ensure_free_space, is_disk_full
from app.downloads.items import SegmentProgress
from app.downloads.layout import part_path, target_path
from app.downloads.ramp import FAST_ENOUGH
from app.downloads.range_hosts import RangeHosts, host_of
from app.downloads.remote import RemoteFile, auth_headers, resolve_file, status_checker
from app.downloads.retry import RetryPolicy, with_retries
from app.downloads.segmented import RangeIgnored, SegmentOptions, fetch_segmented
from app.downloads.segments import piece_size, segment_count
from app.downloads.transfer import PartFile, StopToken, Timeouts, fetch_once

if TYPE_CHECKING:
    import httpx2

log = logging.getLogger("app.downloads")

__all__ = ["DownloadConfig", "JobListener", "RetryPolicy", "download_file", "run_job", "with_retries"]

CHECKSUM_RETRIES = 1  # a file that does not match its checksum is downloaded again this many times


@dataclass(frozen=True, slots=True)
class DownloadConfig:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)
    disk_margin: int = DEFAULT_MARGIN
    token: str | None = None  # None: the token stored by `gguf-studio login`, if any
    segments: int = 8  # connections per file at most (Settings › Downloads); 1: a single stream
    start_segments: int = 2  # connections a file begins with, doubled while that raises the rate (ramp.py)
    min_segment: int = 16 << 20  # one connection per this many bytes (up to `segments`); the smallest request
    min_steal: int = 2 << 20  # an idle connection takes half of a tail at least twice this long...
    idle_steal: float = 2.0  # ...or all of it when its connection sent nothing for this long
    hash_in_flight: bool = True  # segmented files: hash the prefix as it fills (False: one pass at the end)
    range_hosts: Path | None = None  # where hosts that ignore Range are remembered (None: in the data dir)
    fast_link: float = FAST_ENOUGH  # combined bytes/s from which one request takes a run of pieces (0: always)
    nice: int = 0  # the queue's transfer threads run this many CPU priority steps below the app (priority.py)


class JobListener(Protocol):
    def resolved(self, files: Sequence[RemoteFile], done_bytes: int) -> None: ...
    def progress(self, done_bytes: int) -> None: ...
    def retrying(self, message: str, delay: float) -> None: ...
    def file_done(self, filename: str) -> None: ...


def run_job(
    repo_id: str,
    filenames: Sequence[str],
    revision: str,
    models_dir: Path,
    stop: StopToken,
    listener: JobListener,
    config: DownloadConfig = DownloadConfig(),
    client: httpx2.Client | None = None,
    on_segments: Callable[[tuple[SegmentProgress, ...]], None] | None = None,
) -> list[Path]:
    """Download every file of an item; returns their final paths, each one verified. `on_segments` hears
    the connections of a file fetched in segments (about 4 times a second; an empty tuple when it ends)."""
    targets = [target_path(models_dir, repo_id, name) for name in filenames]  # validates names first
    remotes = _resolve_all(repo_id, filenames, revision, stop, listener, config)
    on_disk = [_bytes_on_disk(t, r.size) for t, r in zip(targets, remotes, strict=True)]
    listener.resolved(remotes, sum(on_disk))
    # A segmented part holds its whole size on disk already, however little of it has arrived.
    allocated = [_bytes_allocated(t, r.size) for t, r in zip(targets, remotes, strict=True)]
    ensure_free_space(targets[0].parent, sum(r.size for r in remotes) - sum(allocated), config.disk_margin)
    if client is None:
        from huggingface_hub import get_session

        client = get_session()
    headers = auth_headers(config.token)
    finished = 0
    for remote, target in zip(remotes, targets, strict=True):
        download_file(
            remote,
            target,
            stop,
            partial(_offset_progress, listener, finished),
            config,
            client,
            headers,
            on_retry=listener.retrying,
            on_segments=on_segments,
        )
        finished += remote.size
        listener.progress(finished)
        listener.file_done(remote.filename)
    return targets


def _offset_progress(listener: JobListener, base: int, done: int) -> None:
    listener.progress(base + done)


def _resolve_all(
    repo_id: str,
    filenames: Sequence[str],
    revision: str,
    stop: StopToken,
    listener: JobListener,
    config: DownloadConfig,
) -> list[RemoteFile]:
    remotes: list[RemoteFile] = []
    for name in filenames:
        # Every shard comes from the commit the first one resolved to, even if the branch moves meanwhile.
        rev = remotes[0].commit if remotes else revision
        remotes.append(
            with_retries(
                partial(resolve_file, repo_id, name, rev, config.token),
                config.retry,
                stop,
                listener.retrying,
            )
        )
    return remotes


def _bytes_allocated(target: Path, size: int) -> int:
    for path in (target, part_path(target)):
        with contextlib.suppress(OSError):
            return min(path.stat().st_size, size)
    return 0


def _bytes_on_disk(target: Path, size: int) -> int:
    with contextlib.suppress(OSError):
        return min(target.stat().st_size, size)
    return ranges.bytes_done(part_path(target), size)


def download_file(
    remote: RemoteFile,
    target: Path,
    stop: StopToken,
    on_progress: Callable[[int], None],
    config: DownloadConfig,
    client: httpx2.Client,
    headers: dict[str, str],
    on_retry: Callable[[str, float], None] | None = None,
    on_segments: Callable[[tuple[SegmentProgress, ...]], None] | None = None,
) -> Path:
    """One file to `target`, resuming from its `.part`; never leaves an unverified file at `target`."""
    if _already_verified(target, remote):
        on_progress(remote.size)
        return target
    connections = segment_count(remote.size, config.segments, config.min_segment)
    hosts = RangeHosts(config.range_hosts)
    if connections > 1 and hosts.ignores(remote.url):
        log.info("%s ignores Range (remembered): %s as one stream", host_of(remote.url), remote.filename)
        connections = 1
    if connections > 1:
        try:
            return _download_segmented(
                remote, target, stop, on_progress, config, client, headers, on_retry, on_segments, connections
            )
        except RangeIgnored:
            hosts.remember(remote.url)  # the server cannot serve ranges: one stream, from the prefix on disk
    part = PartFile.open(part_path(target), remote.size, remote.checksum)
    try:
        on_progress(part.offset)
        ensure_free_space(target.parent, remote.size - part.offset, config.disk_margin)
        check = status_checker(remote.repo_id, remote.filename)

        def attempt() -> None:
            fetch_once(
                client,
                remote.url,
                headers,
                part,
                stop,
                lambda _n: on_progress(part.offset),
                check,
                config.timeouts,
            )

        for pass_ in range(1 + CHECKSUM_RETRIES):
            try:
                with_retries(attempt, config.retry, stop, on_retry, progress=lambda: part.offset)
            except ChecksumError:
                _discard(part.path)
                raise
            if part.verified() or pass_ == CHECKSUM_RETRIES:
                break
            # Corruption in transit (a bad proxy, a flaky CDN node) rarely repeats: fetch the file once more.
            # The queue keeps no per-block hashes, so the bytes cannot tell where it went wrong.
            log.warning("%s does not match its %s; downloading it again", remote.filename, remote.checksum.algorithm)
            if on_retry is not None:
                on_retry(f"{remote.filename} did not match its checksum; downloading it again", 0.0)
            part.reset()
            on_progress(0)
        _install(part, target, remote, attempts=1 + CHECKSUM_RETRIES)
    finally:
        part.close()
    return target


def _download_segmented(
    remote: RemoteFile,
    target: Path,
    stop: StopToken,
    on_progress: Callable[[int], None],
    config: DownloadConfig,
    client: httpx2.Client,
    headers: dict[str, str],
    on_retry: Callable[[str, float], None] | None,
    on_segments: Callable[[tuple[SegmentProgress, ...]], None] | None,
    connections: int,
) -> Path:
    part = part_path(target)
    on_progress(ranges.bytes_done(part, remote.size))
    allocated = 0
    with contextlib.suppress(OSError):
        allocated = min(part.stat().st_size, remote.size)  # a segmented part holds its space already
    ensure_free_space(target.parent, remote.size - allocated, config.disk_margin)
    piece = piece_size(remote.size, connections, config.min_segment)
    options = SegmentOptions(
        connections,
        config.min_steal,
        piece,
        config.idle_steal,
        config.hash_in_flight,
        config.start_segments,
        config.fast_link,
    )
    check = status_checker(remote.repo_id, remote.filename)
    for pass_ in range(1 + CHECKSUM_RETRIES):
        if fetch_segmented(
            client,
            remote,
            part,
            headers,
            stop,
            on_progress,
            on_retry,
            on_segments,
            check,
            options,
            config.retry,
            config.timeouts,
        ):
            # The record goes first: a part without one that is whole is still verified before it is used.
            ranges.discard(part)
            _install_verified(part, target)
            return target
        _discard(part)
        ranges.discard(part)
        if pass_ == CHECKSUM_RETRIES:
            break
        log.warning("%s does not match its %s; downloading it again", remote.filename, remote.checksum.algorithm)
        if on_retry is not None:
            on_retry(f"{remote.filename} did not match its checksum; downloading it again", 0.0)
        on_progress(0)
    raise _mismatch(remote, 1 + CHECKSUM_RETRIES)


def _mismatch(remote: RemoteFile, attempts: int) -> ChecksumError:
    times = f" (downloaded {attempts} times)" if attempts > 1 else ""
    return ChecksumError(
        f"{remote.filename} does not match the {remote.checksum.algorithm} the Hub published{times}; "
        "the downloaded bytes were deleted",
        hint="press Retry to download it again; if it keeps failing, a proxy or the file on the Hub is bad",
    )


def _already_verified(target: Path, remote: RemoteFile) -> bool:
    """A file already in place (an earlier run, another app sharing the folder) counts if it hashes right."""
    try:
        if target.stat().st_size != remote.size:
            return False
    except OSError:
        return False
    hasher = remote.checksum.new_hasher(remote.size)
    hash_prefix(hasher, target, remote.size)
    if hasher.hexdigest() == remote.checksum.hexdigest:
        return True
    log.warning("%s exists but does not match the Hub's checksum; downloading it again", target)
    return False


def _install(part: PartFile, target: Path, remote: RemoteFile, attempts: int = 1) -> None:
    if not part.verified():
        _discard(part.path)
        raise _mismatch(remote, attempts)
    _install_verified(part.path, target)


def _install_verified(part: Path, target: Path) -> None:
    try:
        with open(part, "rb+") as handle:
            os.fsync(handle.fileno())  # some filesystems only find out at this point that the disk is full
        os.replace(part, target)
        fsync_dir(target.parent)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(part) from exc
        raise
    log.info("downloaded and verified %s", target)


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
