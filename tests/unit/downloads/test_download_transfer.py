"""The transfer engine against a tiny Range-capable server of this module (the Hub-level faults are in
tests/integration/downloads/test_download_faults.py, against the fake Hub)."""

from __future__ import annotations

import hashlib
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest
import trustme

from app.core.errors import ChecksumError, DiskFullError, DownloadError, GatedRepoError
from app.downloads.checksum import Checksum
from app.downloads.job import DownloadConfig, RetryPolicy, download_file, with_retries
from app.downloads.remote import RemoteFile
from app.downloads.transfer import (
    PartFile,
    Stopped,
    StopToken,
    Timeouts,
    TransientError,
    body_socket,
    fetch_once,
)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mode = ""
    ranges: list[str | None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        mode = self.server.mode
        self.server.ranges.append(self.headers.get("Range"))
        if mode.startswith("status:"):
            status = int(mode.split(":")[1])
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "7")
            if status == 403:
                self.send_header("X-Error-Code", "GatedRepo")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "chunked":
            self._send_chunked()
            return
        if mode == "one-write":
            # Headers and the whole body in one send: the client's first read holds body bytes too.
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(PAYLOAD) + PAYLOAD)
            return
        start = 0
        header = self.headers.get("Range")
        if header and mode != "ignore-range":
            start = int(header.removeprefix("bytes=").rstrip("-"))
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        if mode == "corrupt":
            body = bytes(b ^ 1 for b in body[:10]) + body[10:]
        if mode == "oversize":
            body += b"extra"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode.startswith(("stall:", "drop:", "short:")):
            kind, at = mode.split(":")
            self.server.mode = ""  # the next attempt is served whole
            cut = max(0, int(at) - start)
            self.wfile.write(body[:cut])
            self.wfile.flush()
            if kind == "stall":
                time.sleep(3)
            return
        self.wfile.write(body)

    def _send_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for pos in range(0, len(PAYLOAD), 70_000):
            piece = PAYLOAD[pos : pos + 70_000]
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.ranges = []
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client() -> Iterator[httpx2.Client]:
    with httpx2.Client(follow_redirects=True) as c:
        yield c


def _remote(server: _Server, sha: str = SHA) -> RemoteFile:
    url = f"http://127.0.0.1:{server.server_port}/file.gguf"
    return RemoteFile("org/model", "file.gguf", "c0ffee", len(PAYLOAD), Checksum("sha256", sha), url)


FAST = DownloadConfig(
    retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
    timeouts=Timeouts(connect=5, stall=0.5),
    disk_margin=0,
)


def _no_status(_response: httpx2.Response) -> None:
    raise DownloadError("refused")


def _download(server: _Server, client: httpx2.Client, target: Path, **kw: object) -> Path:
    return download_file(_remote(server, **kw), target, StopToken(), lambda _n: None, FAST, client, {})  # type: ignore[arg-type]


def test_fresh_download_is_verified_and_renamed(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    target = tmp_path / "m" / "file.gguf"
    assert _download(server, client, target) == target
    assert target.read_bytes() == PAYLOAD
    assert not (tmp_path / "m" / "file.gguf.part").exists()
    assert server.ranges == [None]


def test_resume_sends_range_from_the_part_size(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    target = tmp_path / "file.gguf"
    (tmp_path / "file.gguf.part").write_bytes(PAYLOAD[:300_000])
    _download(server, client, target)
    assert server.ranges == ["bytes=300000-"]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == SHA


def test_a_segmented_part_continues_as_one_stream_from_its_prefix(
    server: _Server, client: httpx2.Client, tmp_path: Path
) -> None:
    from app.downloads import ranges

    target = tmp_path / "file.gguf"
    part = tmp_path / "file.gguf.part"
    with open(part, "wb") as handle:  # preallocated, with bytes at the front and further on
        handle.truncate(len(PAYLOAD))
        handle.write(PAYLOAD[:200_000])
        handle.seek(600_000)
        handle.write(PAYLOAD[600_000:700_000])
    ranges.save(part, len(PAYLOAD), Checksum("sha256", SHA), [(0, 200_000), (600_000, 700_000)])
    _download(server, client, target)  # 1 MiB: below the size that gets segments
    assert server.ranges == ["bytes=200000-"]
    assert target.read_bytes() == PAYLOAD
    assert not ranges.ranges_path(part).exists()


def test_server_ignoring_range_restarts_cleanly(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    server.mode = "ignore-range"
    target = tmp_path / "file.gguf"
    (tmp_path / "file.gguf.part").write_bytes(PAYLOAD[:1000])
    _download(server, client, target)
    assert target.read_bytes() == PAYLOAD


def test_part_larger_than_the_file_starts_over(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    target = tmp_path / "file.gguf"
    (tmp_path / "file.gguf.part").write_bytes(PAYLOAD + b"junk")
    _download(server, client, target)
    assert server.ranges == [None]
    assert target.read_bytes() == PAYLOAD


def test_complete_part_is_installed_without_a_request(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    target = tmp_path / "file.gguf"
    (tmp_path / "file.gguf.part").write_bytes(PAYLOAD)
    _download(server, client, target)
    assert server.ranges == []
    assert target.read_bytes() == PAYLOAD


@pytest.mark.parametrize("mode", ["stall:200000", "drop:200000"])
def test_stall_or_drop_resumes_from_received_bytes(
    server: _Server, client: httpx2.Client, tmp_path: Path, mode: str
) -> None:
    server.mode = mode
    target = tmp_path / "file.gguf"
    _download(server, client, target)
    assert target.read_bytes() == PAYLOAD
    assert server.ranges[0] is None
    assert server.ranges[1] is not None and int(server.ranges[1].removeprefix("bytes=").rstrip("-")) > 0


def test_single_attempt_reports_stall_as_transient(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    server.mode = "stall:4096"
    part = PartFile.open(tmp_path / "f.part", len(PAYLOAD), Checksum("sha256", SHA))
    with pytest.raises(TransientError, match="stopped sending"):
        fetch_once(
            client,
            _remote(server).url,
            {},
            part,
            StopToken(),
            lambda _n: None,
            _no_status,
            Timeouts(connect=5, stall=0.3),
        )
    assert part.offset == (tmp_path / "f.part").stat().st_size > 0


def test_wrong_bytes_fail_with_checksum_error_and_leave_nothing(
    server: _Server, client: httpx2.Client, tmp_path: Path
) -> None:
    server.mode = "corrupt"
    target = tmp_path / "file.gguf"
    with pytest.raises(ChecksumError):
        _download(server, client, target)
    assert not target.exists()
    assert not (tmp_path / "file.gguf.part").exists()


def test_oversized_body_is_a_checksum_error(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    server.mode = "oversize"
    with pytest.raises(ChecksumError, match="more than"):
        _download(server, client, tmp_path / "file.gguf")
    assert list(tmp_path.iterdir()) == []


def test_5xx_gives_up_after_the_policy_with_the_part_kept(
    server: _Server, client: httpx2.Client, tmp_path: Path
) -> None:
    server.mode = "status:503"
    (tmp_path / "file.gguf.part").write_bytes(PAYLOAD[:10])
    with pytest.raises(DownloadError, match="Gave up after 3 attempts"):
        _download(server, client, tmp_path / "file.gguf")
    assert (tmp_path / "file.gguf.part").stat().st_size == 10
    assert len(server.ranges) == 3


def test_403_is_permanent_and_gated(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    from app.downloads.remote import status_checker

    server.mode = "status:403"
    part = PartFile.open(tmp_path / "f.part", len(PAYLOAD), Checksum("sha256", SHA))
    with pytest.raises(GatedRepoError, match="gated"):
        fetch_once(
            client, _remote(server).url, {}, part, StopToken(), lambda _n: None, status_checker("org/model", "f.gguf")
        )


def test_429_carries_retry_after(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    server.mode = "status:429"
    part = PartFile.open(tmp_path / "f.part", len(PAYLOAD), Checksum("sha256", SHA))
    with pytest.raises(TransientError) as info:
        fetch_once(client, _remote(server).url, {}, part, StopToken(), lambda _n: None, _no_status)
    assert info.value.retry_after == 7
    assert RetryPolicy(base_delay=1).delay(1, info.value.retry_after) == 7


@pytest.mark.timeout(60)  # without the interrupt the read would wait out the 600 s stall timeout
def test_stop_interrupts_a_stalled_read(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    server.mode = "stall:4096"
    stop = StopToken()
    part = PartFile.open(tmp_path / "f.part", len(PAYLOAD), Checksum("sha256", SHA))
    threading.Timer(0.3, stop.stop, args=("pause",)).start()
    with pytest.raises(Stopped):
        fetch_once(
            client, _remote(server).url, {}, part, stop, lambda _n: None, _no_status, Timeouts(connect=5, stall=600)
        )


def test_backoff_is_capped_exponential() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=8)
    assert [policy.delay(n, None) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    assert policy.delay(1, 1000) == policy.max_retry_after


def test_retries_reset_when_bytes_arrive() -> None:
    calls = {"n": 0, "bytes": 0}

    def flaky() -> str:
        calls["n"] += 1
        calls["bytes"] += 1  # each attempt makes progress, so the count of failures never builds up
        if calls["n"] < 10:
            raise TransientError("dropped")
        return "ok"

    policy = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0)
    assert with_retries(flaky, policy, StopToken(), progress=lambda: calls["bytes"]) == "ok"


def test_disk_space_is_checked_before_starting(server: _Server, client: httpx2.Client, tmp_path: Path) -> None:
    config = DownloadConfig(disk_margin=1 << 60)
    with pytest.raises(DiskFullError, match="Not enough free space"):
        download_file(_remote(server), tmp_path / "file.gguf", StopToken(), lambda _n: None, config, client, {})
    assert server.ranges == []


@pytest.mark.skipif(sys.platform == "win32", reason="Windows: part files are not locked (its locks are mandatory)")
def test_a_part_being_downloaded_elsewhere_is_not_touched(
    server: _Server, client: httpx2.Client, tmp_path: Path
) -> None:
    (tmp_path / "file.gguf.part").write_bytes(PAYLOAD[:1000])
    other = PartFile.open(tmp_path / "file.gguf.part", len(PAYLOAD), Checksum("sha256", SHA))
    try:
        with pytest.raises(DownloadError, match="already being downloaded"):
            _download(server, client, tmp_path / "file.gguf")
        assert server.ranges == []
        assert (tmp_path / "file.gguf.part").stat().st_size == 1000
    finally:
        other.close()
    _download(server, client, tmp_path / "file.gguf")
    assert server.ranges == ["bytes=1000-"]


@pytest.mark.parametrize("mode", ["chunked", "one-write"])
def test_body_framings_arrive_whole(server: _Server, client: httpx2.Client, tmp_path: Path, mode: str) -> None:
    """Chunked bodies go through httpx; a Content-Length body is read from the socket after httpx's first
    chunk, which must then hold every body byte that came with the headers."""
    server.mode = mode
    target = tmp_path / "file.gguf"
    _download(server, client, target)
    assert target.read_bytes() == PAYLOAD


@pytest.mark.parametrize(("mode", "direct"), [("", True), ("chunked", False)])
def test_body_socket_only_for_plain_content_length_bodies(
    server: _Server, client: httpx2.Client, mode: str, direct: bool
) -> None:
    server.mode = mode
    with client.stream("GET", _remote(server).url) as response:
        assert (body_socket(response) is not None) == direct
        response.read()  # closing with the body unread would reset the connection under the server


@pytest.fixture
def tls_server(server: _Server) -> Iterator[tuple[_Server, ssl.SSLContext]]:
    """The same server behind TLS, with a throwaway CA the client trusts."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    yield server, client_context


def test_https_body_is_read_through_the_tls_socket(tls_server: tuple[_Server, ssl.SSLContext], tmp_path: Path) -> None:
    server, client_context = tls_server
    url = f"https://127.0.0.1:{server.server_port}/file.gguf"
    remote = RemoteFile("org/model", "file.gguf", "c0ffee", len(PAYLOAD), Checksum("sha256", SHA), url)
    (tmp_path / "file.gguf.part").write_bytes(PAYLOAD[:100_000])
    with httpx2.Client(verify=client_context) as client:
        with client.stream("GET", url) as response:
            assert isinstance(body_socket(response), ssl.SSLSocket)
            response.read()
        download_file(remote, tmp_path / "file.gguf", StopToken(), lambda _n: None, FAST, client, {})
    assert (tmp_path / "file.gguf").read_bytes() == PAYLOAD
    assert server.ranges[-1] == "bytes=100000-"
