"""The one translation of huggingface_hub's and the network's exceptions into the app's errors.

The exceptions are real: huggingface_hub's own `hf_raise_for_status` classifies real httpx2 responses, exactly
as it does for answers from the Hub.
"""

from __future__ import annotations

import httpx2
import pytest
from huggingface_hub import errors as hf_errors
from huggingface_hub.utils import hf_raise_for_status

from app.core.errors import (
    AppError,
    GatedRepoError,
    HubError,
    NotFoundError,
    OfflineError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from app.core.hubenv import hub_endpoint
from app.hub.errors import OFFLINE_HINT, hub_call, translate

REPO = "org/model-GGUF"


def _hub_error(status: int, path: str, headers: dict[str, str] | None = None, body: str = "") -> Exception:
    """What huggingface_hub raises for this answer to GET <endpoint><path>."""
    request = httpx2.Request("GET", f"{hub_endpoint()}{path}")
    response = httpx2.Response(status, headers=headers or {}, text=body, request=request)
    with pytest.raises(hf_errors.HfHubHTTPError) as caught:
        hf_raise_for_status(response)
    return caught.value


def _status_error(status: int, headers: dict[str, str] | None = None) -> httpx2.HTTPStatusError:
    """What plain httpx2 raises (the download path talks to CDNs without huggingface_hub)."""
    request = httpx2.Request("GET", "https://cdn.example/file.gguf")
    response = httpx2.Response(status, headers=headers or {}, request=request)
    with pytest.raises(httpx2.HTTPStatusError) as caught:
        response.raise_for_status()
    return caught.value


def _gated(status: int) -> Exception:
    return _hub_error(status, f"/api/models/{REPO}", {"X-Error-Code": "GatedRepo"})


def test_gated_without_sign_in_says_sign_in_and_links_the_repo() -> None:
    exc = _gated(401)
    err = translate(exc)
    assert type(err) is GatedRepoError
    assert err.message == f"{REPO} is gated: sign in, then accept its license on the Hub"
    assert err.hint == f"{hub_endpoint()}/{REPO}"
    assert err.repo_id == REPO


def test_gated_without_access_says_accept_the_license() -> None:
    err = translate(_gated(403))
    assert type(err) is GatedRepoError
    assert err.message == f"{REPO} is gated and your account has no access yet: accept its license on the Hub"
    assert err.hint == f"{hub_endpoint()}/{REPO}"


def test_gated_is_checked_before_not_found() -> None:
    """huggingface_hub's GatedRepoError is a RepositoryNotFoundError; it must not read as 'not found'."""
    exc = _gated(403)
    assert isinstance(exc, hf_errors.GatedRepoError) and isinstance(exc, hf_errors.RepositoryNotFoundError)
    assert not isinstance(translate(exc), NotFoundError)


def test_gated_error_built_directly_takes_the_repo_given_by_the_caller() -> None:
    response = httpx2.Response(403, request=httpx2.Request("GET", f"{hub_endpoint()}/somewhere"))
    err = translate(hf_errors.GatedRepoError("403 Client Error", response=response), REPO)
    assert isinstance(err, GatedRepoError) and err.repo_id == REPO


@pytest.mark.parametrize(
    ("code", "expected_class", "message", "hint"),
    [
        ("RepoNotFound", hf_errors.RepositoryNotFoundError, f"Repository {REPO} not found",
         "check the name; private repos need a sign-in"),
        ("RevisionNotFound", hf_errors.RevisionNotFoundError, f"Revision not found in {REPO}", ""),
        ("EntryNotFound", hf_errors.EntryNotFoundError, f"File not found in {REPO}", ""),
    ],
)
def test_missing_things_are_not_found(code: str, expected_class: type, message: str, hint: str) -> None:
    exc = _hub_error(404, f"/{REPO}/resolve/main/x.gguf", {"X-Error-Code": code})
    assert isinstance(exc, expected_class)
    err = translate(exc, REPO)
    assert (type(err), err.message, err.hint) == (NotFoundError, message, hint)


@pytest.mark.parametrize(
    ("status", "cls", "message", "hint"),
    [
        (401, UnauthorizedError, "The Hub refused your token", "sign in again with a valid token"),
        (403, UnauthorizedError, f"Your token may not access {REPO}", "check the token's permissions"),
        (404, NotFoundError, f"Not found on the Hub: {REPO}", ""),
        (500, ServerError, "The Hub had a problem (500)", "try again later"),
        (503, ServerError, "The Hub had a problem (503)", "try again later"),
    ],
)
def test_other_answers_by_status(status: int, cls: type[HubError], message: str, hint: str) -> None:
    for exc in (_hub_error(status, "/api/whoami-v2"), _status_error(status)):
        exc.response.request.headers["Authorization"] = "Bearer hf_sent"  # type: ignore[attr-defined]
        err = translate(exc, REPO)
        assert (type(err), err.message, err.hint) == (cls, message, hint)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_without_a_token_does_not_blame_one(status: int) -> None:
    for exc in (_hub_error(status, "/api/whoami-v2"), _status_error(status)):
        err = translate(exc, REPO)
        assert isinstance(err, UnauthorizedError)
        assert err.message == f"The Hub refused access to {REPO} ({status}); no token was sent"
        assert "token" not in err.message.replace("no token was sent", "")


def test_a_missing_item_without_a_repo_is_named_generically() -> None:
    assert translate(_status_error(404)).message == "Not found on the Hub: the requested item"


def test_rate_limit_carries_the_wait() -> None:
    err = translate(_hub_error(429, "/api/models", {"Retry-After": "7"}))
    assert isinstance(err, RateLimitedError)
    assert (err.message, err.retry_after, err.hint) == ("The Hub is rate limiting requests", 7.0, "try again in 7 s")
    unreadable = translate(_status_error(429, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}))
    assert isinstance(unreadable, RateLimitedError)
    assert (unreadable.retry_after, unreadable.hint) == (None, "try again in a minute")


def test_an_unexpected_status_quotes_the_first_line() -> None:
    err = translate(_status_error(418), REPO)
    assert type(err) is HubError
    assert err.message.startswith(f"The Hub answered 418 {REPO}: Client error '418 I'm a teapot'")
    assert "\n" not in err.message


@pytest.mark.parametrize(
    "exc",
    [
        httpx2.ConnectError("connection refused"),
        httpx2.ConnectTimeout("timed out"),
        httpx2.ReadTimeout("timed out"),
        httpx2.RemoteProtocolError("server disconnected"),
    ],
)
def test_network_failures_are_offline(exc: Exception) -> None:
    err = translate(exc)
    assert type(err) is OfflineError
    assert (err.message, err.hint) == (f"Cannot reach the Hub at {hub_endpoint()}", type(exc).__name__)


def test_local_conditions() -> None:
    offline = translate(hf_errors.OfflineModeIsEnabled("offline"))
    assert (type(offline), offline.hint) == (OfflineError, OFFLINE_HINT)
    no_token = translate(hf_errors.LocalTokenNotFoundError("no token"))
    assert (type(no_token), no_token.message, no_token.hint) == (
        UnauthorizedError, "You are not signed in to the Hub", "add a token in Settings"
    )


def test_app_errors_pass_unchanged_and_anything_else_is_a_hub_error() -> None:
    mine = NotFoundError("already explained")
    assert translate(mine) is mine
    err = translate(ValueError("Expecting value: line 1 column 1"), REPO)
    assert type(err) is HubError
    assert err.message == f"Unexpected answer from the Hub {REPO}: Expecting value: line 1 column 1"


def test_hub_call_refuses_offline_without_running_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ran = []
    with pytest.raises(OfflineError, match="offline mode is on"), hub_call(REPO):
        ran.append(True)
    assert ran == []


def test_hub_call_translates_and_chains_the_cause() -> None:
    original = _gated(401)
    with pytest.raises(GatedRepoError) as caught, hub_call(REPO):
        raise original
    assert caught.value.__cause__ is original
    explained = UnauthorizedError("explained already", hint="h")
    with pytest.raises(AppError) as passed, hub_call(REPO):
        raise explained
    assert passed.value is explained
