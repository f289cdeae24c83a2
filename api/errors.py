"""The one place that maps domain errors to HTTP statuses."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from rag.errors import (
    ConflictError,
    EmbedderMismatchError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
    PayloadTooLargeError,
    RagmemError,
    StorageError,
    TooManyRequestsError,
    UnauthorizedError,
    UnsupportedMediaError,
)
from rag.generation.base import GeneratorUnavailableError

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
    (StorageError, 507),
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


class AsciiJSONResponse(JSONResponse):
    """JSON with everything past ASCII escaped: a lone surrogate that came in a request
    (legal as a JSON escape, not in UTF-8) can be quoted back instead of failing (500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")


def validation_errors(exc: RequestValidationError, *, max_input: int = 200) -> list[Any]:
    """FastAPI's error list, with each echoed `input` made printable and cut short
    (a body that is not UTF-8 arrives as bytes; a large one need not come back whole)."""
    errors = []
    for error in exc.errors():
        error = dict(error)
        value = error.get("input")
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and len(value) > max_input:
            value = value[:max_input] + "..."
        if "input" in error:
            error["input"] = value
        errors.append(error)
    return jsonable_encoder(errors)


def install_error_handlers(app: FastAPI) -> None:
    """Answer domain errors with `{"detail": message}` and their status, and request
    validation errors with FastAPI's 422 body (safe to render whatever was sent)."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        code = status_for(exc)
        if code >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return AsciiJSONResponse({"detail": str(exc)}, status_code=code, headers=headers_for(exc))

    async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return AsciiJSONResponse({"detail": validation_errors(exc)}, status_code=422)

    app.add_exception_handler(RagmemError, handle)
    app.add_exception_handler(RequestValidationError, handle_validation)
