"""The one error hierarchy. Every message is written for the user: what happened and what to do.

Every exception class of the app lives here. An AppError pickles with its message, hint and every field, so
one raised in a child process arrives in the app as the same class (see `AppError.__reduce__`).
"""

from __future__ import annotations

from typing import Any


def _restore(cls: type[AppError], state: dict[str, Any]) -> AppError:
    # Subclass constructors differ (GGUFError rewrites its message, Cancelled has defaults): skip them and
    # put back the exact fields instead.
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class AppError(Exception):
    """Base of every error the app expects and can explain to a user."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (type(self), dict(self.__dict__))


class Cancelled(AppError):
    """The user stopped the work (a load, a job, a task); not a failure."""

    def __init__(self, message: str = "cancelled", *, hint: str = "") -> None:
        super().__init__(message, hint=hint)


class ConfigError(AppError):
    """Settings or paths that cannot be used."""


class GGUFError(AppError):
    """A GGUF file that is malformed, truncated, hostile or unsupported."""

    def __init__(self, message: str, *, offset: int | None = None, hint: str = "") -> None:
        if offset is not None:
            message = f"{message} (at byte {offset})"
        super().__init__(message, hint=hint)
        self.offset = offset


class EstimateError(AppError):
    """Load settings that cannot be estimated (or cannot work at all)."""


class HubError(AppError):
    """The Hugging Face Hub could not answer as needed."""


class OfflineError(HubError):
    """No network, or HF_HUB_OFFLINE is set."""


class NotFoundError(HubError):
    """Repository, revision or file does not exist (or is private)."""


class GatedRepoError(HubError):
    """The repository is gated: the user must accept its license on the Hub."""

    def __init__(self, message: str, *, repo_id: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.repo_id = repo_id

    @property
    def url(self) -> str:
        from app.core.hubenv import hub_endpoint

        return f"{hub_endpoint()}/{self.repo_id}"


class UnauthorizedError(HubError):
    """The token is missing, wrong or expired."""


class RateLimitedError(HubError):
    """The Hub asked us to slow down."""

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class ServerError(HubError):
    """The Hub answered with a 5xx."""


class DownloadError(AppError):
    """A transfer failed in a way that retrying will not fix."""


class ChecksumError(DownloadError):
    """A finished file does not match the checksum the Hub published."""


class DiskFullError(AppError):
    """Not enough free space (checked beforehand, or ran out anyway)."""


class LibraryError(AppError):
    """A model folder or index that cannot be used."""


class BusyError(AppError):
    """Another process holds a file or lock we need (a second app instance, a concurrent writer)."""


class ConvertError(AppError):
    """A Hugging Face checkpoint that cannot be converted to GGUF."""


class QuantizeError(AppError):
    """A quantization or imatrix job that failed."""


class ShareError(AppError):
    """Publishing to the Hub cannot go ahead as asked (an existing repository with other content, files of
    different models, a card that is not valid); nothing was uploaded because of it."""


class RepoConflictError(ShareError):
    """The repository to publish to exists and holds content this app did not publish: ask before adding."""


class EngineError(AppError):
    """The chat engine process failed, died or was given something it cannot do."""


class ContextFullError(EngineError):
    """The prompt does not fit the context."""


class MediaError(EngineError):
    """An image or audio clip that cannot be used: corrupt, too large, of a kind the model's projector does not
    take, or given to a model loaded without a projector."""


class RemoteError(AppError):
    """A remote OpenAI-compatible endpoint that cannot be used (base of the remote errors below)."""


class RemoteUnreachableError(RemoteError):
    """No connection to the endpoint (refused, timed out, name not resolved, TLS failure)."""


class RemoteAuthError(RemoteError):
    """The endpoint refused the key (401/403)."""


class RemoteModelNotFoundError(RemoteError):
    """The endpoint does not serve the requested model (404)."""


class RemoteServerError(RemoteError):
    """The endpoint failed on its side (5xx) or answered something that is not the OpenAI API."""


class StreamDroppedError(RemoteError):
    """A streamed reply that ended before it was finished; `partial` is the text received until then."""

    def __init__(self, message: str, *, partial: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.partial = partial


class RpcError(AppError):
    """A llama.cpp RPC worker that cannot be used (unreachable, busy, another protocol version)."""


class TemplateError(AppError):
    """A chat template that cannot be rendered safely."""


class HistoryError(AppError):
    """The chat history database cannot be read or written."""


class SidecarError(ValueError):
    """A quality sidecar file that cannot be used (it is then ignored, never shown to the user)."""


class TransientError(Exception):
    """A download failure that another attempt may get past (network, stall, 5xx, 429, short body); the
    download job retries it and turns the last one into an AppError."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Stopped(Exception):
    """A download the user paused or cancelled (the reason is the argument); not an error."""
