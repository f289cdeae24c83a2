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
    UnsupportedMediaError,
)
from rag.generators.base import GeneratorUnavailableError

log = logging.getLogger(__name__)

STATUS: list[tuple[type[Exception], int]] = [
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


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain errors with `{"detail": message}` and their status."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        code = status_for(exc)
        if code >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=code)

    app.add_exception_handler(RagmemError, handle)
