"""Session memory in MemGPT's tiers over InfLLM-style blocks.

MemGPT (Packer et al., 2023, arXiv:2310.08560) gives an agent core memory (a few pinned
facts always in context), recall memory (every past message, searchable) and archival
memory (free-form passages, searchable). Here recall and archival memory are each a
`BlockMemory`; `context()` assembles core facts + archival hits + the recall memory's
sinks, top-k blocks and local window of recent messages, under one token budget.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from memory.assembly import AssembledContext, AssemblyConfig
from memory.blockmemory import BlockHit, BlockMemory
from memory.cache import BlockCache
from memory.encoding import TextEncoder
from memory.errors import MemoryNotFoundError, SessionNotFoundError
from memory.rows import ArchivalRecord, Message, Session, SessionRows
from memory.store import MemoryStore
from memory.tokens import TokenCounter

ROLES = ("system", "user", "assistant", "tool")
__all__ = ["ROLES", "ArchivalRecord", "MemoryHit", "Message", "Session", "SessionContext",
           "SessionMemoryService"]


@dataclass(frozen=True)
class MemoryHit:
    """A recall (message) or archival search result, with the best block's offsets."""

    tier: str
    ref_id: int
    text: str
    score: float
    start: int
    end: int


@dataclass(frozen=True)
class SessionContext:
    """What `context()` returns: every tier's part, with provenance, and the tokens used."""

    session_id: str
    core: dict[str, str]
    archival: list[MemoryHit]
    recall: AssembledContext
    n_tokens: int
    budget: int
    notes: list[str] = field(default_factory=list)
    roles: dict[int, str] = field(default_factory=dict)  # seq -> role of recalled messages

    def text(self) -> str:
        """The context as one prompt-ready string (core, archival, then conversation)."""
        parts = []
        if self.core:
            parts.append("Core memory:\n" + "\n".join(f"- {k}: {v}" for k, v in self.core.items()))
        if self.archival:
            parts.append("Archival memory:\n" + "\n".join(f"- {h.text}" for h in self.archival))
        if self.recall.pieces:
            parts.append("Conversation:\n" + self.recall.text())
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for the HTTP layer)."""
        return asdict(self) | {"text": self.text()}


class SessionMemoryService:
    """Sessions and their records (`sessions`), their recall and archival block memories
    (`store`).

    The constructor is cheap; block memories open on first use. Call `close()` to write
    pending FAISS files (rows are always committed; indexes rebuild if lost).
    """

    def __init__(
        self,
        store: MemoryStore,
        sessions: SessionRows,
        *,
        encoder: TextEncoder,
        counter: TokenCounter,
        encoder_name: str = "encoder",
        config: AssemblyConfig = AssemblyConfig(),
        cache: BlockCache | None = None,
    ) -> None:
        self.store, self.rows, self.encoder, self.counter = store, sessions, encoder, counter
        self.encoder_name, self.config = encoder_name, config
        self.cache = cache if cache is not None else BlockCache()
        self._memories: dict[str, BlockMemory] = {}

    def _memory(self, session_id: str, tier: str) -> BlockMemory:
        name = f"session:{session_id}:{tier}"
        if name not in self._memories:
            self._memories[name] = BlockMemory(
                self.store,
                name,
                encoder=self.encoder,
                counter=self.counter,
                encoder_name=self.encoder_name,
                kind=f"session-{tier}",
                config=self.config,
                cache=self.cache,
            ).open()
        return self._memories[name]

    def close(self) -> None:
        """Write every open memory's FAISS file."""
        for memory in self._memories.values():
            memory.flush()

    def reload(self, session_id: str) -> None:
        """Drop the session's open memories, unflushed, so they reopen from the rows (after
        a caller's transaction that held their new blocks rolled back)."""
        for tier in ("recall", "archival"):
            self._memories.pop(f"session:{session_id}:{tier}", None)

    # -- sessions -------------------------------------------------------------------------

    def create_session(
        self, name: str = "", *, collection: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Session:
        """Create a session with a fresh id.

        Args:
            name: A label.
            collection: The collection the session asks by default (informational here).
            metadata: Any JSON-able dict kept with the session.
        """
        session = Session(uuid.uuid4().hex, name, time.time(), collection, dict(metadata or {}))
        self.rows.insert_session(session)
        return session

    def get_session(self, session_id: str) -> Session:
        """The session `session_id`.

        Raises:
            SessionNotFoundError: when it does not exist.
        """
        session = self.rows.get_session(session_id)
        if session is None:
            raise SessionNotFoundError(f"no session {session_id!r}")
        return session

    def list_sessions(self) -> list[Session]:
        """Every session, oldest first."""
        return self.rows.list_sessions()

    def counts(self, session_id: str) -> dict[str, int]:
        """How many messages, core facts and archival records the session holds."""
        self.get_session(session_id)
        return self.rows.counts(session_id)

    def delete_session(self, session_id: str) -> None:
        """Delete a session and all its tiers.

        Raises:
            SessionNotFoundError: when it does not exist.
        """
        self.get_session(session_id)
        for tier in ("recall", "archival"):
            name = f"session:{session_id}:{tier}"
            self._memories.pop(name, None)
            self.store.delete_memory(name)
        self.rows.delete_session(session_id)

    # -- recall memory: messages ------------------------------------------------------------

    def append_message(self, session_id: str, role: str, content: str) -> Message:
        """Append a turn; it is stored, segmented into blocks and indexed at once.

        Raises:
            ValueError: on an unknown role or empty content.
            SessionNotFoundError: when the session does not exist.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        if not content.strip():
            raise ValueError("content must not be empty")
        self.get_session(session_id)
        message = self.rows.append_message(session_id, role, content, time.time())
        self._memory(session_id, "recall").add(f"message:{message.seq}", f"{role}: {content}",
                                               flush=False)
        return message

    def messages(self, session_id: str, *, since: int = 0, limit: int | None = None) -> list[Message]:
        """Messages with `seq >= since`, in order (at most `limit`)."""
        self.get_session(session_id)
        return self.rows.messages(session_id, since=since, limit=limit)

    def recall_search(self, session_id: str, query: str, *, k: int = 5) -> list[MemoryHit]:
        """Past messages most relevant to `query`, best first."""
        self.get_session(session_id)
        hits = self._memory(session_id, "recall").search(query, k=max(k, 1) * 2)
        seqs = sorted({int(h.source.rsplit(":", 1)[1]) for h in hits})
        texts = {m.seq: f"{m.role}: {m.content}" for m in self.rows.messages_by_seq(session_id, seqs)}
        return _by_source(hits, "recall", texts)[:k]

    # -- core memory ---------------------------------------------------------------------------

    def core_memory(self, session_id: str) -> dict[str, str]:
        """The pinned facts, key -> value."""
        self.get_session(session_id)
        return self.rows.core(session_id)

    def set_core_memory(self, session_id: str, key: str, value: str) -> None:
        """Pin (or replace) one fact.

        Raises:
            ValueError: when `key` is empty.
        """
        if not key.strip():
            raise ValueError("core memory key must not be empty")
        self.get_session(session_id)
        self.rows.set_core(session_id, key, value, time.time())

    def replace_core_memory(self, session_id: str, facts: dict[str, str]) -> None:
        """Replace every pinned fact with `facts` in one transaction.

        Raises:
            ValueError: when a key is empty.
        """
        if any(not key.strip() for key in facts):
            raise ValueError("core memory keys must not be empty")
        self.get_session(session_id)
        self.rows.replace_core(session_id, facts, time.time())

    def delete_core_memory(self, session_id: str, key: str) -> None:
        """Unpin one fact.

        Raises:
            MemoryNotFoundError: when the key is not pinned.
        """
        self.get_session(session_id)
        if not self.rows.delete_core(session_id, key):
            raise MemoryNotFoundError(f"no core memory {key!r} in session {session_id!r}")

    # -- archival memory -----------------------------------------------------------------------

    def archival_insert(self, session_id: str, text: str) -> ArchivalRecord:
        """Store a passage in archival memory and index it.

        Raises:
            ValueError: when `text` is empty.
        """
        if not text.strip():
            raise ValueError("archival text must not be empty")
        self.get_session(session_id)
        record = self.rows.insert_archival(session_id, text, time.time())
        self._memory(session_id, "archival").add(f"archival:{record.id}", text, flush=False)
        return record

    def archival_search(self, session_id: str, query: str, *, k: int = 5) -> list[MemoryHit]:
        """Archival passages most relevant to `query`, best first."""
        self.get_session(session_id)
        hits = self._memory(session_id, "archival").search(query, k=max(k, 1) * 2)
        texts = {r.id: r.text for r in self.rows.archival(session_id)}
        return _by_source(hits, "archival", texts)[:k]

    # -- context -------------------------------------------------------------------------------

    def context(
        self, session_id: str, query: str, *, budget: int = 4096, archival_k: int = 3
    ) -> SessionContext:
        """Assemble core facts, archival hits and the conversation for `query`.

        Core memory always comes first; archival hits take at most a quarter of what is
        left; the conversation (sinks + top-k past blocks + recent messages) gets the rest.

        Raises:
            ValueError: when `budget` is not positive.
        """
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget!r}")
        core = self.core_memory(session_id)
        notes: list[str] = []
        used = sum(self.counter.count([f"- {k}: {v}" for k, v in core.items()]))
        if used > budget:
            notes.append(f"core memory ({used} tokens) exceeds the budget ({budget})")
        archival: list[MemoryHit] = []
        if archival_k > 0:
            room = max(0, budget - used) // 4
            for hit in self.archival_search(session_id, query, k=archival_k):
                n = self.counter.count([hit.text])[0]
                if n <= room:
                    archival.append(hit)
                    room, used = room - n, used + n
        recall = self._memory(session_id, "recall").context(query, budget=max(0, budget - used))
        return SessionContext(session_id, core, archival, recall, used + recall.n_tokens, budget, notes)


def _by_source(hits: list[BlockHit], tier: str, texts: dict[int, str]) -> list[MemoryHit]:
    """Collapse block hits to one hit per source record (its best block)."""
    out: dict[int, MemoryHit] = {}
    for hit in hits:
        ref = int(hit.source.rsplit(":", 1)[1])
        if ref not in out and ref in texts:
            out[ref] = MemoryHit(tier, ref, texts[ref], hit.score, hit.start, hit.end)
    return list(out.values())
