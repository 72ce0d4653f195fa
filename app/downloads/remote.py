"""What the Hub says about one file (URL, size, checksum, commit), through huggingface_hub.

huggingface_hub is imported when first needed: the download queue must not slow the app's start-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.errors import (
    AppError,
    DownloadError,
    NotFoundError,
    OfflineError,
    RateLimitedError,
    ServerError,
    TransientError,
    UnauthorizedError,
)
from app.core.hubenv import hub_endpoint, hub_offline
from app.downloads.checksum import Checksum

if TYPE_CHECKING:
    import httpx2

log = logging.getLogger("app.downloads")

METADATA_TIMEOUT = 15.0
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True, slots=True)
class RemoteFile:
    repo_id: str
    filename: str
    commit: str
    size: int
    checksum: Checksum
    url: str  # pinned to `commit`, so every attempt and every shard fetch the same bytes


def auth_headers(token: str | None = None) -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    return build_hf_headers(token=token)


def resolve_file(repo_id: str, filename: str, revision: str, token: str | None = None) -> RemoteFile:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    if hub_offline():
        raise OfflineError("Offline mode is on (HF_HUB_OFFLINE)", hint="turn it off to download models")
    endpoint = hub_endpoint()
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token, timeout=METADATA_TIMEOUT, endpoint=endpoint)
    except Exception as exc:
        raise translate_error(exc, repo_id, filename) from exc
    checksum = Checksum.from_etag(meta.etag)
    if meta.size is None or checksum is None or not meta.commit_hash:
        raise DownloadError(
            f"The Hub gave no size, checksum or commit for {filename} in {repo_id}",
            hint="a file that cannot be verified is not downloaded",
        )
    pinned = hf_hub_url(repo_id, filename, revision=meta.commit_hash, endpoint=endpoint)
    return RemoteFile(repo_id, filename, meta.commit_hash, meta.size, checksum, pinned)


def status_checker(repo_id: str, filename: str) -> _StatusCheck:
    return _StatusCheck(repo_id, filename)


@dataclass(frozen=True, slots=True)
class _StatusCheck:
    repo_id: str
    filename: str

    def __call__(self, response: httpx2.Response) -> None:
        from huggingface_hub.utils import hf_raise_for_status

        try:
            hf_raise_for_status(response)
        except Exception as exc:
            raise translate_error(exc, self.repo_id, self.filename) from exc


def translate_error(exc: BaseException, repo_id: str, filename: str) -> Exception:
    """A failure → TransientError when another attempt may succeed, else the app.hub translation."""
    import httpx2
    from huggingface_hub import errors as hf_errors

    from app.hub.errors import translate

    if isinstance(exc, AppError | TransientError):
        return exc
    if isinstance(exc, httpx2.TransportError):
        return TransientError(f"could not reach the Hub ({type(exc).__name__})")
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, hf_errors.HfHubHTTPError) and status in _TRANSIENT_STATUS:
        error = translate(exc, repo_id)
        retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
        return TransientError(f"the Hub answered {status}", retry_after=retry_after)
    error = translate(exc, repo_id)
    if isinstance(error, RateLimitedError | ServerError):
        return TransientError(str(error), retry_after=getattr(error, "retry_after", None))
    if isinstance(exc, hf_errors.EntryNotFoundError) and filename:
        return NotFoundError(f"{filename} is not in {repo_id}", hint="the file may have been renamed or removed")
    if filename and isinstance(exc, hf_errors.HfHubHTTPError) and status in (403, 404) and not isinstance(
        exc, hf_errors.RepositoryNotFoundError | hf_errors.RevisionNotFoundError
    ):
        return _file_refused(exc.response, status, repo_id, filename)
    return error


def _file_refused(response: httpx2.Response, status: int, repo_id: str, filename: str) -> AppError:
    """A 403/404 for one file, often from the download server (CDN) after a redirect: name the file and the
    server, and blame a token only when one was sent."""
    from urllib.parse import urlsplit

    from app.hub.errors import token_sent

    host = urlsplit(str(response.url)).hostname or "the server"
    hub_host = urlsplit(hub_endpoint()).hostname
    where = "the Hub" if host == hub_host else f"the download server ({host})"
    if status == 404:
        return NotFoundError(
            f"{filename} of {repo_id} was not found: {where} answered 404",
            hint="the file may have been renamed or removed; reload the repo's file list and try again",
        )
    if token_sent(response):
        return UnauthorizedError(
            f"Your token may not download {filename} from {repo_id}: {where} answered 403",
            hint="check the token's permissions, or accept the repo's license on the Hub",
        )
    return DownloadError(
        f"{where[0].upper()}{where[1:]} refused {filename} of {repo_id} (403); no token was sent",
        hint="if the repo is private or gated, sign in; otherwise press Retry (a download link can expire)",
    )
