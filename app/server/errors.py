"""An HTTP-level failure: its status and a sentence for the caller. Each API writes it in its own format."""

from __future__ import annotations

from app.core.errors import AppError, Cancelled, ContextFullError, EngineError, MediaError, TemplateError


class ApiError(Exception):
    # A plain exception, not a frozen dataclass: the async machinery sets attributes on exceptions it relays.
    def __init__(self, status: int, message: str, param: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.retry_after = retry_after  # seconds, sent as Retry-After with a 503


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param)


def from_app_error(error: AppError) -> ApiError:
    """An error the engine raised for one request, as the status a client can act on."""
    text = str(error)
    if isinstance(error, (ContextFullError, TemplateError, MediaError)):  # the request, not the engine
        return ApiError(400, text)
    if isinstance(error, Cancelled):
        return ApiError(503, f"The request was cancelled: {text}", retry_after=1)
    if isinstance(error, EngineError):
        return ApiError(503, f"The engine failed: {text}", retry_after=1)
    return ApiError(500, text)


def engine_stopped(model_id: str, error: AppError) -> ApiError:
    """A request whose engine process died under it (killed, or llama.cpp aborted): `error` says why."""
    why = error.message[:1].lower() + error.message[1:]
    hint = f"; {error.hint}" if error.hint else ""
    return ApiError(500, f"The engine serving '{model_id}' stopped: {why}{hint}. The next request loads the "
                         "model again")
