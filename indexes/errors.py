"""Errors raised by indexes.

`RagmemError`, the root of every domain error, lives here because `indexes` is the lowest
floor; `rag.errors` re-exports it and adds the service's own errors.
"""


class RagmemError(Exception):
    """Root of every ragmem domain error."""


class IndexFormatError(RagmemError):
    """An index directory is missing, corrupt or of an unknown format version."""


class EmbedderMismatchError(RagmemError):
    """A collection was built with another embedder (name or dimension) than the one loaded."""


class MissingDependencyError(RagmemError, ImportError):
    """An optional library is not installed; the message names what to install."""
