"""The one place that maps domain errors to HTTP statuses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rag.errors import (
    ConflictError,
    EmbedderMismatchError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
    PayloadTooLargeError,
    RagmemError,
    TooManyRequestsError,
    UnauthorizedError,
    UnsupportedMediaError,
)
from rag.generators.base import GeneratorUnavailableError

log = logging.getLogger(__name__)

STATUS: list[tuple[type[Exception], int]] = [
    (UnauthorizedError, 401),
    (TooManyRequestsError, 429),
    (PayloadTooLargeError, 413),
    (UnsupportedMediaError, 415),
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (EmbedderMismatchError, 409),
    # A backend that is not installed or not reachable: the service, not the request, is at fault.
    (GeneratorUnavailableError, 503),
    (MissingDependencyError, 503),
    (RagmemError, 500),
]


def status_for(exc: Exception) -> int:
    """The HTTP status of a domain error (most specific class first)."""
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


def headers_for(exc: Exception) -> dict[str, str] | None:
    """Headers a status asks for: the auth scheme with a 401, when to retry with a 429."""
    if isinstance(exc, UnauthorizedError):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, TooManyRequestsError):
        return {"Retry-After": str(exc.retry_after)}
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain errors with `{"detail": message}` and their status."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        code = status_for(exc)
        if code >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=code, headers=headers_for(exc))

    app.add_exception_handler(RagmemError, handle)
