"""What the memory floor persists: typed rows and the Protocols the storage layer implements.

`memory/` sits below `rag/`, so it owns no database: block memories and sessions are
written through `BlockRows` and `SessionRows`, which `rag/storage/memory_rows.py`
implements over the service's one SQLite store (its connection policy, its migrations).
FAISS files are derived from these rows and stay with the memory (`memory.store`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

FORMAT_VERSION = 1  # of a memory's rows; a memory of another version is refused


@dataclass(frozen=True)
class MemoryInfo:
    """A memory's pinned parameters."""

    id: int
    name: str
    kind: str
    encoder: str
    dim: int
    block_tokens: int
    reps: int


@dataclass(frozen=True)
class BlockRow:
    """One block as stored."""

    block_id: int
    source: str
    start: int
    end: int
    n_tokens: int
    text: str


@dataclass(frozen=True)
class RepRow:
    """One representative vector of a block (`start == end` for the block mean)."""

    block_id: int
    j: int
    start: int
    end: int
    vector: np.ndarray


@dataclass(frozen=True)
class Session:
    """A conversation with its own memory tiers (`collection`: the one it asks by default)."""

    id: str
    name: str
    created_at: float
    collection: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class Message:
    """One turn; `seq` counts from 0 within its session."""

    session_id: str
    seq: int
    role: str
    content: str
    created_at: float


@dataclass(frozen=True)
class ArchivalRecord:
    """One passage of archival memory."""

    id: int
    text: str
    created_at: float


@runtime_checkable
class BlockRows(Protocol):
    """Memories, their blocks and their representative vectors. Each write is one
    transaction; a write inside a caller's transaction joins it."""

    def get_memory(self, name: str) -> MemoryInfo:
        """The memory called `name`.

        Raises:
            MemoryNotFoundError: when there is none.
            MemoryFormatError: when its rows are of another `FORMAT_VERSION`.
        """
        ...

    def create_memory(self, name: str, *, kind: str, encoder: str, dim: int, block_tokens: int,
                      reps: int) -> MemoryInfo:
        """Create the memory `name`, or return it when it exists."""
        ...

    def delete_memory(self, memory_id: int) -> None:
        """Delete a memory with its blocks and representatives."""
        ...

    def memory_names(self, prefix: str) -> list[str]:
        """Names of the memories starting with `prefix`."""
        ...

    def add_blocks(self, memory_id: int, blocks: Sequence[BlockRow], reps: Sequence[RepRow]) -> None:
        """Store blocks and their representatives in one transaction."""
        ...

    def block_spans(self, memory_id: int) -> list[tuple[int, str, int, int, int]]:
        """`(block_id, source, start, end, n_tokens)` of every block, in block order."""
        ...

    def iter_block_texts(self, memory_id: int, batch: int = 4096) -> Iterator[list[str]]:
        """Block texts in block order, `batch` at a time."""
        ...

    def block_payloads(self, memory_id: int, block_ids: Sequence[int], dim: int,
                       ) -> dict[int, tuple[str, np.ndarray]]:
        """Text and representative vectors (rows of a `(r, dim)` array) of the given blocks."""
        ...

    def rep_count(self, memory_id: int) -> int:
        """How many representatives the memory holds."""
        ...

    def iter_reps(self, memory_id: int, dim: int, *, stride: int,
                  ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`(ids, vectors)` batches of every representative, id = block_id * stride + j."""
        ...


@runtime_checkable
class SessionRows(Protocol):
    """Sessions and their tiers' records: messages, core facts, archival passages."""

    def insert_session(self, session: Session) -> None:
        """Store a new session."""
        ...

    def get_session(self, session_id: str) -> Session | None:
        """The session, or None when there is none."""
        ...

    def list_sessions(self) -> list[Session]:
        """Every session, oldest first."""
        ...

    def delete_session(self, session_id: str) -> None:
        """Delete a session with its messages, core facts and archival records (one
        transaction)."""
        ...

    def counts(self, session_id: str) -> dict[str, int]:
        """`{"messages", "core", "archival"}` counts of a session."""
        ...

    def append_message(self, session_id: str, role: str, content: str, created_at: float) -> Message:
        """Store a turn under the next `seq` (allocated in the same transaction)."""
        ...

    def messages(self, session_id: str, *, since: int = 0, limit: int | None = None) -> list[Message]:
        """Messages with `seq >= since`, in order (at most `limit`)."""
        ...

    def messages_by_seq(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        """The messages with these `seq`s, in order (unknown ones are absent)."""
        ...

    def core(self, session_id: str) -> dict[str, str]:
        """Pinned facts, key -> value, by key."""
        ...

    def set_core(self, session_id: str, key: str, value: str, updated_at: float) -> None:
        """Pin or replace one fact."""
        ...

    def replace_core(self, session_id: str, facts: Mapping[str, str], updated_at: float) -> None:
        """Replace every pinned fact in one transaction."""
        ...

    def delete_core(self, session_id: str, key: str) -> bool:
        """Unpin one fact; False when it was not pinned."""
        ...

    def insert_archival(self, session_id: str, text: str, created_at: float) -> ArchivalRecord:
        """Store a passage under the next id (allocated in the same transaction)."""
        ...

    def archival(self, session_id: str) -> list[ArchivalRecord]:
        """Every archival record of a session, by id."""
        ...
