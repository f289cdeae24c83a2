"""Domain errors of the service. The API maps each to one HTTP status (api/errors.py)."""

from indexes.errors import (
    EmbedderMismatchError,
    IndexFormatError,
    MissingDependencyError,
    RagmemError,
)

__all__ = [
    "RagmemError",
    "IndexFormatError",
    "EmbedderMismatchError",
    "MissingDependencyError",
    "InvalidInputError",
    "UnsupportedMediaError",
    "PayloadTooLargeError",
    "NotFoundError",
    "ConflictError",
    "UnauthorizedError",
    "TooManyRequestsError",
    "DataDirLockedError",
    "StorageError",
]


class InvalidInputError(RagmemError, ValueError):
    """The caller sent something unusable: empty, binary, malformed, out of range (422)."""


class UnsupportedMediaError(InvalidInputError):
    """A file type that no parser handles (415)."""


class PayloadTooLargeError(InvalidInputError):
    """A file or body over the configured size limit (413)."""


class NotFoundError(RagmemError, LookupError):
    """An unknown collection, document, job or session (404)."""


class ConflictError(RagmemError):
    """The request conflicts with stored state, e.g. a collection that already exists (409)."""


class DataDirLockedError(RagmemError):
    """Another process holds the data dir's lock (one ragmem process per data dir)."""


class StorageError(RagmemError):
    """The data dir cannot be written: a full disk or a write error (507); nothing of the
    request was committed."""


class UnauthorizedError(RagmemError):
    """No API key, or an unknown or revoked one, where auth is on (401)."""


class TooManyRequestsError(RagmemError):
    """A per-key limit is reached, e.g. its concurrent jobs (429); retry after a while."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
