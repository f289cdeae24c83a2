"""The protocol every index and retriever shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Hit:
    """One search result: a chunk id and its score within one index or fusion.

    Scores are comparable only within the source that produced them.
    """

    chunk_id: int
    score: float
    source: str


@dataclass(frozen=True)
class Chunk:
    """What an index needs to know about a chunk: its id, its text and its title."""

    id: int
    text: str
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def indexed_text(self) -> str:
        """The text that is indexed: `title + "\\n" + text` when a title is set."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@runtime_checkable
class Retriever(Protocol):
    """Anything that ranks chunks for a query."""

    def search(self, query: str, k: int) -> list[Hit]:
        """Return at most `k` hits, best first."""
        ...


@runtime_checkable
class Index(Retriever, Protocol):
    """A persistent, incrementally updatable index of chunks."""

    name: str

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Index `chunks`; a chunk id already present is replaced."""
        ...

    def delete(self, chunk_ids: Sequence[int]) -> None:
        """Remove chunks; they never appear in results again."""
        ...

    def save(self, directory: Path) -> None:
        """Write the index into `directory` (which exists and is empty)."""
        ...

    def load(self, directory: Path) -> None:
        """Replace this index's contents with what `save` wrote to `directory`."""
        ...

    def count(self) -> int:
        """Number of live chunks."""
        ...

    def stats(self) -> dict[str, Any]:
        """Small JSON-able summary (counts, sizes)."""
        ...


def validate_k(k: int) -> int:
    """Check a result count where it enters an index.

    Raises:
        ValueError: when `k` is not a positive integer.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return k
