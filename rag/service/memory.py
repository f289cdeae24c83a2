"""The service's long-context memory: session tiers and long-document mode (issue 7).

A small facade over the `memory` floor that the service owns. Memory rows live in the
service's store (`memory_*` tables, through `rag/storage/memory_rows.py`) and FAISS files in
`<data_dir>/memory/`; the service's embedder encodes and its tokenizer counts. It validates what enters, turns
memory errors into the service's domain errors (404/422), and serializes access: block
memories allow one writer and are not safe to read while written.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from indexes.embedder import Embedder
from memory.assembly import AssembledContext, AssemblyConfig
from memory.blockmemory import BlockMemory
from memory.cache import BlockCache
from memory.errors import MemoryNotFoundError
from memory.longdoc import document_memory_name, open_document_memory
from memory.sessions import ROLES, MemoryHit, SessionContext, SessionMemoryService
from memory.store import MemoryStore
from memory.tokens import HFTokenCounter
from rag.errors import InvalidInputError, NotFoundError
from rag.service import keys
from rag.settings import MemorySettings
from rag.storage.memory_rows import StoreBlockRows, StoreSessionRows
from rag.storage.store import Store

MAX_K = 100
OPEN_DOCUMENTS = 8  # document memories kept open (their hot blocks share one cache)


class MemoryService:
    """Sessions (core, recall, archival memory) and per-document block memories.

    Rows go through the service's `store` (its connection, its migrations); FAISS files
    go to `faiss_dir`. The constructor is cheap; `open()` (called on first use) loads the
    encoder: block memories open when a session or document is first used.
    """

    def __init__(self, store: Store, faiss_dir: Path, embedder: Embedder,
                 settings: MemorySettings) -> None:
        self.settings = settings
        self.embedder = embedder
        self.db = store
        self.rows = StoreSessionRows(store)
        self.store = MemoryStore(StoreBlockRows(store), faiss_dir)
        self.cache = BlockCache(settings.cache_mb * 2**20)
        self.config = AssemblyConfig(n_init=settings.n_init, n_local=settings.n_local,
                                     top_k=settings.top_k, block_tokens=settings.block_tokens,
                                     reps=settings.reps)
        self._sessions: SessionMemoryService | None = None
        self._documents: OrderedDict[str, BlockMemory] = OrderedDict()
        self._lock = threading.RLock()  # sessions
        self._doc_lock = threading.RLock()  # document memories

    def open(self) -> MemoryService:
        """Make the session service (idempotent)."""
        with self._lock:
            if self._sessions is None:
                self._sessions = SessionMemoryService(
                    self.store, self.rows, encoder=self.embedder.load(), counter=self._counter(),
                    encoder_name=self.embedder.name, config=self.config, cache=self.cache)
        return self

    def _counter(self) -> HFTokenCounter:
        return HFTokenCounter(self.embedder.load().tokenizer)

    def close(self) -> None:
        """Write pending FAISS files (the store's connection is the service's to close)."""
        with self._lock, self._doc_lock:
            if self._sessions is not None:
                self._sessions.close()
                self._sessions = None
            for memory in self._documents.values():
                memory.flush()
            self._documents.clear()

    @contextmanager
    def _session_tiers(self) -> Iterator[SessionMemoryService]:
        """The session service under the lock; a missing session or key becomes a 404."""
        self.open()
        with self._lock:
            assert self._sessions is not None
            try:
                yield self._sessions
            except MemoryNotFoundError as exc:
                raise NotFoundError(exc.args[0] if exc.args else "not found") from exc

    # -- validation ------------------------------------------------------------------------
    def _text(self, text: object, what: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"the {what} is empty")
        if len(text) > self.settings.max_content_chars:
            raise InvalidInputError(f"the {what} is too long ({len(text)} > "
                                    f"{self.settings.max_content_chars} characters)")
        return text

    def _budget(self, budget: int | None) -> int:
        budget = self.settings.budget if budget is None else budget
        if not 1 <= budget <= self.settings.max_budget:
            raise InvalidInputError(f"budget must be between 1 and {self.settings.max_budget}, "
                                    f"got {budget}")
        return budget

    @staticmethod
    def _k(k: int) -> int:
        if not 1 <= k <= MAX_K:
            raise InvalidInputError(f"k must be between 1 and {MAX_K}, got {k}")
        return k

    # -- sessions ----------------------------------------------------------------------------
    def create_session(self, name: str = "", *, collection: str | None = None,
                       metadata: dict[str, Any] | None = None,
                       owner_key_id: int | None = None) -> dict[str, Any]:
        """Create a session owned by `owner_key_id` (None: anonymous); returns its record
        with tier counts. The session and its owner are written in one transaction, so a
        failure leaves neither (never a session without its owner)."""
        with self._session_tiers() as tiers:
            with self.db.transaction():
                session = tiers.create_session(name, collection=collection, metadata=metadata)
                keys.set_session_owner(self.db, session.id, owner_key_id)
            return session.to_dict() | {"counts": tiers.counts(session.id)}

    def get_session(self, session_id: str) -> dict[str, Any]:
        """A session's record with its tier counts.

        Raises:
            NotFoundError: for an unknown session.
        """
        with self._session_tiers() as tiers:
            return tiers.get_session(session_id).to_dict() | {"counts": tiers.counts(session_id)}

    def list_sessions(self) -> list[dict[str, Any]]:
        """Every session, oldest first."""
        with self._session_tiers() as tiers:
            return [s.to_dict() for s in tiers.list_sessions()]

    def delete_session(self, session_id: str) -> None:
        """Delete a session, every tier of its memory and its owner row (the rows in one
        transaction; the tiers' FAISS files are removed with their memories)."""
        with self._session_tiers() as tiers:
            with self.db.transaction():
                tiers.delete_session(session_id)
                keys.forget_session(self.db, session_id)

    def add_messages(self, session_id: str, messages: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """Append `(role, content)` turns in order: all validated first, then stored in one
        transaction (one commit, one fsync, for the whole batch; all or none)."""
        if not messages:
            raise InvalidInputError("no messages were sent")
        for role, content in messages:
            if role not in ROLES:
                raise InvalidInputError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
            self._text(content, "message content")
        with self._session_tiers() as tiers:
            tiers.get_session(session_id)
            try:
                with self.db.transaction():
                    return [asdict(tiers.append_message(session_id, role, content))
                            for role, content in messages]
            except BaseException:
                tiers.reload(session_id)  # its in-RAM index may hold rolled-back blocks
                raise

    def messages(self, session_id: str, *, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Messages with `seq >= since`, in order (at most `limit`)."""
        if since < 0 or (limit is not None and limit < 1):
            raise InvalidInputError(f"since must be >= 0 and limit >= 1, got {since}, {limit}")
        with self._session_tiers() as tiers:
            return [asdict(m) for m in tiers.messages(session_id, since=since, limit=limit)]

    def context(self, session_id: str, query: str, *, budget: int | None = None) -> SessionContext:
        """Core facts, archival hits and the conversation assembled for `query`."""
        query, budget = self._text(query, "query"), self._budget(budget)
        with self._session_tiers() as tiers:
            ctx = tiers.context(session_id, query, budget=budget, archival_k=self.settings.archival_k)
            return replace(ctx, roles=_roles(tiers, session_id, ctx))

    def context_dict(self, session_id: str, query: str, *, budget: int | None = None) -> dict[str, Any]:
        """`context()` as JSON: text, token counts and every piece with its provenance."""
        ctx = self.context(session_id, query, budget=budget)
        return {"session_id": session_id, "query": query, "text": ctx.text(),
                "n_tokens": ctx.n_tokens, "budget": ctx.budget, "notes": ctx.notes,
                "core": ctx.core, "pieces": self.provenance(ctx)}

    def provenance(self, ctx: SessionContext) -> list[dict[str, Any]]:
        """Every piece of a session context: tier, kind, source, offsets, tokens, score, text."""
        pieces: list[dict[str, Any]] = []
        if ctx.core:
            lines = [f"- {k}: {v}" for k, v in ctx.core.items()]
            pieces.append(_piece("core", "core", "core", "\n".join(lines), 0, None,
                                 sum(self._counter().count(lines))))
        for hit in ctx.archival:
            pieces.append(_piece("archival", "archival", f"archival:{hit.ref_id}", hit.text, 0,
                                 hit.score, self._counter().count([hit.text])[0]))
        for p in ctx.recall.pieces:
            pieces.append(_piece("recall", p.kind, p.source, p.text, p.start, p.score, p.n_tokens))
        return pieces

    # -- core, archival, recall -------------------------------------------------------------
    def core(self, session_id: str) -> dict[str, str]:
        """The session's pinned facts."""
        with self._session_tiers() as tiers:
            return tiers.core_memory(session_id)

    def set_core(self, session_id: str, key: str, value: str) -> dict[str, str]:
        """Pin (or replace) one fact; returns every fact."""
        if not key.strip():
            raise InvalidInputError("core memory key must not be empty")
        self._text(value, "core memory value")
        with self._session_tiers() as tiers:
            tiers.set_core_memory(session_id, key, value)
            return tiers.core_memory(session_id)

    def replace_core(self, session_id: str, facts: dict[str, str]) -> dict[str, str]:
        """Replace the whole set of pinned facts; returns them."""
        for key, value in facts.items():
            if not key.strip():
                raise InvalidInputError("core memory keys must not be empty")
            self._text(value, f"core memory value of {key!r}")
        with self._session_tiers() as tiers:
            tiers.replace_core_memory(session_id, facts)
            return tiers.core_memory(session_id)

    def delete_core(self, session_id: str, key: str) -> dict[str, str]:
        """Unpin one fact (404 when it is not pinned); returns the remaining facts."""
        with self._session_tiers() as tiers:
            tiers.delete_core_memory(session_id, key)
            return tiers.core_memory(session_id)

    def archival_insert(self, session_id: str, text: str) -> dict[str, Any]:
        """Store and index one archival passage."""
        text = self._text(text, "archival text")
        with self._session_tiers() as tiers:
            return asdict(tiers.archival_insert(session_id, text))

    def archival_search(self, session_id: str, query: str, *, k: int = 5) -> list[dict[str, Any]]:
        """Archival passages most relevant to `query`, best first."""
        query, k = self._text(query, "query"), self._k(k)
        with self._session_tiers() as tiers:
            return [_hit(h) for h in tiers.archival_search(session_id, query, k=k)]

    def recall_search(self, session_id: str, query: str, *, k: int = 5) -> list[dict[str, Any]]:
        """Past messages most relevant to `query`, best first."""
        query, k = self._text(query, "query"), self._k(k)
        with self._session_tiers() as tiers:
            return [_hit(h) for h in tiers.recall_search(session_id, query, k=k)]

    # -- long documents --------------------------------------------------------------------
    def document_context(self, collection: str, document: dict[str, Any], query: str, *,
                         budget: int) -> tuple[AssembledContext, str]:
        """The document's blocks assembled for `query` (memory built on first use).

        Args:
            collection: The document's collection name.
            document: A stored document record with its `id` and full `text`.
            query: The question.
            budget: Most tokens in the context.

        Returns:
            The context (pieces carry offsets into the document text) and the memory name.
        """
        query, budget = self._text(query, "question"), self._budget(budget)
        self.open()
        with self._doc_lock:
            memory = self._document_memory(collection, document)
            return memory.context(query, budget=budget, config=document_shape(self.config, budget)), memory.name

    def _document_memory(self, collection: str, document: dict[str, Any]) -> BlockMemory:
        name = document_memory_name(collection, document["id"], document["text"])
        if name in self._documents:
            self._documents.move_to_end(name)
            return self._documents[name]
        memory = open_document_memory(
            self.store, collection=collection, document_id=document["id"], text=document["text"],
            encoder=self.embedder.load(), counter=self._counter(), encoder_name=self.embedder.name,
            config=self.config, cache=self.cache)
        self._drop_old_versions(name)
        self._documents[name] = memory
        while len(self._documents) > OPEN_DOCUMENTS:
            self._documents.popitem(last=False)[1].flush()
        return memory

    def _drop_old_versions(self, name: str) -> None:
        """Delete memories of earlier versions of the same document."""
        prefix = name.rsplit(":", 1)[0] + ":"
        for old in self.store.rows.memory_names(prefix):
            if old != name:
                self._documents.pop(old, None)
                self.store.delete_memory(old)


def document_shape(config: AssemblyConfig, budget: int) -> AssemblyConfig:
    """A context shape for questions over one document: short sinks (title, opening), a
    short local window (its end), and every other token for relevant blocks."""
    n_init = min(config.n_init, budget // 16)
    n_local = min(2 * config.block_tokens, budget // 8)
    top_k = max(1, (budget - n_init - n_local) // config.block_tokens)
    return replace(config, n_init=n_init, n_local=n_local, top_k=top_k)


def _piece(tier: str, kind: str, source: str, text: str, start: int, score: float | None,
           tokens: int) -> dict[str, Any]:
    return {"tier": tier, "kind": kind, "source": source, "start": start,
            "end": start + len(text), "tokens": tokens, "score": score, "text": text}


def _roles(tiers: SessionMemoryService, session_id: str, ctx: SessionContext) -> dict[int, str]:
    """seq -> role of every message the context holds a piece of."""
    seqs = sorted({int(p.source.rsplit(":", 1)[1]) for p in ctx.recall.pieces
                   if p.source.startswith("message:")})
    return {m.seq: m.role for m in tiers.rows.messages_by_seq(session_id, seqs)}


def _hit(hit: MemoryHit) -> dict[str, Any]:
    return {"tier": hit.tier, "id": hit.ref_id, "text": hit.text, "score": round(hit.score, 6),
            "start": hit.start, "end": hit.end}
