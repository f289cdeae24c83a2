"""The one place that maps domain errors to HTTP statuses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rag.errors import (
    ConflictError,
    EmbedderMismatchError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    RagmemError,
    UnsupportedMediaError,
)

log = logging.getLogger(__name__)

STATUS: list[tuple[type[Exception], int]] = [
    (PayloadTooLargeError, 413),
    (UnsupportedMediaError, 415),
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (EmbedderMismatchError, 409),
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
