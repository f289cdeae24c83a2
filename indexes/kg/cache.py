"""The OpenIE cache the KG index reads and fills, as a Protocol: the storage layer owns it.

OpenIE is the costly step of building a HippoRAG graph (Gutiérrez et al. 2024), so its
results outlive index generations: a rebuild or a re-ingest of the same text reuses them,
and HippoRAG's precomputed files can be imported once. Results are keyed by the hash of a
chunk's indexed text and their source. `indexes` is the lowest floor, so the SQLite
implementation lives in `rag/storage/openie_cache.py` and is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from indexes.kg.openie import OpenIEResult


@runtime_checkable
class OpenIECache(Protocol):
    """Cached OpenIE results by (text hash, source)."""

    def get_many(self, hashes: Sequence[str], sources: Sequence[str]) -> dict[str, OpenIEResult]:
        """Cached results for `hashes`, taking the first of `sources` (in order of
        preference) that has one; hashes not found are left out."""
        ...

    def put_many(self, items: Iterable[tuple[str, OpenIEResult]]) -> int:
        """Store `(hash, result)` pairs under each result's source; returns the count."""
        ...

    def count(self, source: str | None = None) -> int:
        """Number of cached results, of one source or of all."""
        ...
