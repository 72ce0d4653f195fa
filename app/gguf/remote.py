"""Read the header of a GGUF file at an http(s) URL with byte-range requests (no tensor data is fetched).

The first request asks for the first chunk and learns the file size from Content-Range, so a typical
header costs two requests in all. Requests go through huggingface_hub's shared HTTP session with a
timeout; a Hub token is sent only to the Hub itself (never to the CDN a /resolve/ URL redirects to).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.core.errors import AppError, GGUFError, HubError, NotFoundError, OfflineError, UnauthorizedError
from app.core.hubenv import hub_endpoint, hub_offline
from app.gguf.reader import GGUFHeader, read_header_ranged
from app.gguf.window import FIRST_CHUNK

if TYPE_CHECKING:
    import httpx2

log = logging.getLogger("app.gguf")
TIMEOUT_S = 20.0


def read_header_url(url: str, *, token: str | None = None, timeout: float = TIMEOUT_S) -> GGUFHeader:
    """The header of the GGUF file at `url` (redirects followed)."""
    remote = RemoteFile(url, token=token, timeout=timeout)
    header = read_header_ranged(remote.fetch, remote.size, source=url)
    log.debug("read the header of %s in %d requests", url, remote.requests)
    return header


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


class RemoteFile:
    """A remote file read by byte ranges. Opening it fetches the first `first_chunk` bytes."""

    def __init__(
        self, url: str, *, token: str | None = None, timeout: float = TIMEOUT_S, first_chunk: int = FIRST_CHUNK
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise GGUFError(f"not an http(s) URL: {url}")
        if hub_offline():
            raise OfflineError(f"offline mode is on (HF_HUB_OFFLINE), so {url} cannot be read")
        self.url = url
        self.timeout = timeout
        self.requests = 0
        self._auth: dict[str, str] = {}
        if _same_origin(url, hub_endpoint()):
            from huggingface_hub import get_token

            token = token or get_token()
            if token:
                self._auth = {"authorization": f"Bearer {token}"}
        self._head, self.size = self._first(first_chunk)

    def fetch(self, start: int, end: int) -> bytes:
        """Bytes [start, end) of the file."""
        if end <= len(self._head):
            return self._head[start:end]
        data, _ = self._get(start, end)
        return data

    def _first(self, first_chunk: int) -> tuple[bytes, int]:
        data, size = self._get(0, first_chunk)
        return data, size

    def _get(self, start: int, end: int) -> tuple[bytes, int]:
        """One range request; returns the bytes and the file's total size."""
        import httpx2
        from huggingface_hub import get_session

        headers = {"range": f"bytes={start}-{end - 1}", **self._auth}
        self.requests += 1
        try:
            with get_session().stream(
                "GET", self.url, headers=headers, timeout=self.timeout, follow_redirects=True
            ) as response:
                self._check_status(response.status_code)
                if response.status_code == 200 and start > 0:
                    raise GGUFError(f"{self.url} does not support range requests")
                size = self._total_size(response, start)
                wanted = min(end, size) - start
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) >= wanted:
                        break  # a server that ignores Range would send the whole file: stop early
                # later requests go straight to where the redirect led (a CDN), without the token
                if str(response.url) != self.url:
                    self.url = str(response.url)
                    self._auth = {} if not _same_origin(self.url, hub_endpoint()) else self._auth
        except httpx2.TimeoutException as exc:
            raise OfflineError(f"timed out reading {self.url}") from exc
        except httpx2.HTTPError as exc:
            raise OfflineError(f"cannot reach {urlsplit(self.url).hostname}: {exc}") from exc
        if len(data) < wanted:
            raise GGUFError(f"{self.url} sent {len(data)} bytes where {wanted} were asked for", offset=start)
        return bytes(data[:wanted]), size

    def _check_status(self, status: int) -> None:
        if status in (200, 206):
            return
        where = self.url
        error: AppError
        if status == 401:
            error = UnauthorizedError(f"{where} needs a Hugging Face token", hint="sign in first")
        elif status == 403:
            error = UnauthorizedError(f"access to {where} is refused", hint="the repository may be gated")
        elif status == 404:
            error = NotFoundError(f"{where} does not exist")
        elif status == 416:
            error = GGUFError(f"{where} is shorter than its header says")
        else:
            error = HubError(f"{where} answered HTTP {status}")
        raise error

    @staticmethod
    def _total_size(response: httpx2.Response, start: int) -> int:
        headers = response.headers
        if response.status_code == 206:
            total = headers.get("content-range", "").rpartition("/")[2]
            if total.isdigit():
                return int(total)
            raise GGUFError("the server did not give the file size (Content-Range)")
        length = headers.get("content-length", "")
        if start == 0 and length.isdigit():
            return int(length)
        raise GGUFError("the server does not support range requests")
