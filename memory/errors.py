"""Errors raised by the memory floor; all subclass `RagmemError`."""

from indexes.errors import RagmemError


class MemoryStoreError(RagmemError):
    """Root of the memory floor's errors."""


class MemoryNotFoundError(MemoryStoreError, KeyError):
    """A memory, session or archival record id does not exist."""


class SessionNotFoundError(MemoryNotFoundError):
    """A session id does not exist."""


class MemoryFormatError(MemoryStoreError):
    """A stored memory (SQLite rows or FAISS file) is corrupt or of an unknown version."""
