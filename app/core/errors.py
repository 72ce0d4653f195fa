"""The one error hierarchy. Every message is written for the user: what happened and what to do."""

from __future__ import annotations


class AppError(Exception):
    """Base of every error the app expects and can explain to a user."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


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


class ConvertError(AppError):
    """A Hugging Face checkpoint that cannot be converted to GGUF."""


class QuantizeError(AppError):
    """A quantization or imatrix job that failed."""


class EngineError(AppError):
    """The chat engine process failed, died or was given something it cannot do."""


class TemplateError(AppError):
    """A chat template that cannot be rendered safely."""


class HistoryError(AppError):
    """The chat history database cannot be read or written."""
