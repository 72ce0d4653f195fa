"""What the Hub says about one file (URL, size, checksum, commit), through huggingface_hub."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx2
from huggingface_hub import errors as hf_errors
from huggingface_hub import get_hf_file_metadata, hf_hub_url
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

from app.core.errors import (
    AppError,
    DownloadError,
    GatedRepoError,
    NotFoundError,
    OfflineError,
    UnauthorizedError,
)
from app.core.hubenv import hub_endpoint, hub_offline
from app.downloads.checksum import Checksum
from app.downloads.transfer import TransientError

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
    return build_hf_headers(token=token)


def resolve_file(repo_id: str, filename: str, revision: str, token: str | None = None) -> RemoteFile:
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
        try:
            hf_raise_for_status(response)
        except Exception as exc:
            raise translate_error(exc, self.repo_id, self.filename) from exc


def translate_error(exc: BaseException, repo_id: str, filename: str) -> Exception:
    """huggingface_hub and httpx failures → an AppError for the user, or TransientError to retry."""
    if isinstance(exc, AppError | TransientError):
        return exc
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return OfflineError("Offline mode is on (HF_HUB_OFFLINE)", hint="turn it off to download models")
    if isinstance(exc, hf_errors.GatedRepoError):
        error = GatedRepoError(f"{repo_id} is gated", repo_id=repo_id)
        error.hint = f"accept its license at {error.url} while signed in, then retry"
        return error
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            return UnauthorizedError(
                f"{repo_id} was not found or needs a sign-in",
                hint="check the name, or sign in under Settings",
            )
        return NotFoundError(
            f"Model {repo_id} was not found", hint="check the name; private models need a sign-in"
        )
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return NotFoundError(f"That revision of {repo_id} does not exist")
    if isinstance(exc, hf_errors.RemoteEntryNotFoundError):
        return NotFoundError(
            f"{filename} is not in {repo_id}", hint="the file may have been renamed or removed"
        )
    if isinstance(exc, hf_errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        if status in _TRANSIENT_STATUS or status == 0:
            retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
            seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
            return TransientError(f"the Hub answered {status}", retry_after=seconds)
        if status == 401:
            return UnauthorizedError("The Hub refused the sign-in token", hint="sign in again under Settings")
        if status == 403:
            error = GatedRepoError(f"Access to {repo_id} was refused", repo_id=repo_id)
            error.hint = f"accept its license at {error.url} while signed in, then retry"
            return error
        if status == 404:
            return NotFoundError(f"{filename} is not in {repo_id}")
        return DownloadError(f"The Hub answered {status} for {filename} in {repo_id}")
    if isinstance(exc, httpx2.TransportError | OSError):
        return TransientError(f"could not reach the Hub: {exc}")
    return exc if isinstance(exc, Exception) else DownloadError(str(exc))
