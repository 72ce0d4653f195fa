"""The one place where huggingface_hub's and the network's exceptions become the app's HubErrors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub import errors as hf_errors

from app.core.errors import (
    AppError,
    ConfigError,
    GatedRepoError,
    HubError,
    NotFoundError,
    OfflineError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from app.core.hubenv import hub_endpoint, hub_offline

log = logging.getLogger("app.hub")

OFFLINE_HINT = "unset HF_HUB_OFFLINE to use the Hub"


def check_online() -> None:
    if hub_offline():
        raise OfflineError("The Hub is not used: offline mode is on", hint=OFFLINE_HINT)


def _retry_after(response: httpx2.Response | None) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate(exc: BaseException, repo_id: str = "") -> AppError:
    """An AppError a user can act on, for any exception raised while talking to the Hub."""
    what = f" {repo_id}" if repo_id else ""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, hf_errors.HFValidationError):  # checked here, before any request
        return ConfigError(
            f"{repo_id or 'That'!r} is not a Hub repository id",
            hint="use owner/name, with letters, digits, '-', '_' or '.', e.g. bartowski/Llama-3.2-1B-Instruct-GGUF",
        )
    if isinstance(exc, hf_errors.OfflineModeIsEnabled):
        return OfflineError("The Hub is not used: offline mode is on", hint=OFFLINE_HINT)
    # GatedRepoError is a RepositoryNotFoundError: it must be tested first.
    if isinstance(exc, hf_errors.GatedRepoError):
        status = exc.response.status_code if exc.response is not None else 0
        rid = exc.repo_id or repo_id
        if status == 401:
            return GatedRepoError(
                f"{rid} is gated: sign in, then accept its license on the Hub",
                repo_id=rid,
                hint=f"{hub_endpoint()}/{rid}",
            )
        return GatedRepoError(
            f"{rid} is gated and your account has no access yet: accept its license on the Hub",
            repo_id=rid,
            hint=f"{hub_endpoint()}/{rid}",
        )
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return NotFoundError(f"Repository{what} not found", hint="check the name; private repos need a sign-in")
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return NotFoundError(f"Revision not found in{what}")
    if isinstance(exc, hf_errors.EntryNotFoundError):
        return NotFoundError(f"File not found in{what}")
    if isinstance(exc, hf_errors.LocalTokenNotFoundError):
        return UnauthorizedError("You are not signed in to the Hub", hint="add a token in Settings")
    if isinstance(exc, hf_errors.HfHubHTTPError):
        return _from_status(exc.response, str(exc), what)
    if isinstance(exc, httpx2.HTTPStatusError):
        return _from_status(exc.response, str(exc), what)
    if isinstance(exc, (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)):
        return OfflineError(f"Cannot reach the Hub at {hub_endpoint()}", hint=type(exc).__name__)
    return HubError(f"Unexpected answer from the Hub{what}: {exc}")


def token_sent(response: httpx2.Response | None) -> bool:
    """Whether the request that got `response` carried a token (a redirect to the CDN drops it)."""
    try:
        return response is not None and "authorization" in response.request.headers
    except RuntimeError:  # a response built without its request
        return False


def _from_status(response: httpx2.Response | None, text: str, what: str) -> HubError:
    status = response.status_code if response is not None else 0
    if status in (401, 403) and not token_sent(response):
        return UnauthorizedError(
            f"The Hub refused access to{what or ' this item'} ({status}); no token was sent",
            hint="if it is private or gated, sign in with a token in Settings",
        )
    if status == 401:
        return UnauthorizedError("The Hub refused your token", hint="sign in again with a valid token")
    if status == 403:
        return UnauthorizedError(f"Your token may not access{what}", hint="check the token's permissions")
    if status == 404:
        return NotFoundError(f"Not found on the Hub:{what or ' the requested item'}")
    if status == 429:
        after = _retry_after(response)
        wait = f"try again in {after:g} s" if after is not None else "try again in a minute"
        return RateLimitedError("The Hub is rate limiting requests", retry_after=after, hint=wait)
    if status >= 500:
        return ServerError(f"The Hub had a problem ({status})", hint="try again later")
    first = text.strip().splitlines()[0] if text.strip() else str(status)
    return HubError(f"The Hub answered {status}{what}: {first}")


@contextmanager
def hub_call(repo_id: str = "") -> Iterator[None]:
    """Run Hub I/O: refuse when offline, translate every failure into a HubError."""
    check_online()
    try:
        yield
    except AppError:
        raise
    except Exception as exc:
        err = translate(exc, repo_id)
        log.info("hub call failed: %s (%s)", err, type(exc).__name__)
        raise err from exc
