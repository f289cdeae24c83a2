"""The memory floor's rows (`memory.rows.BlockRows`, `memory.rows.SessionRows`) in the
store's database (SQLite or PostgreSQL): tables `memory_*` (migration 5), through the
store's connections and its one policy (one transaction per write, joined when a caller
holds one)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from memory.errors import MemoryFormatError, MemoryNotFoundError
from memory.rows import FORMAT_VERSION, ArchivalRecord, BlockRow, MemoryInfo, Message, RepRow, Session
from rag.storage.store import Store

_BATCH = 900  # host parameters per IN (...), under SQLite's limit
_REP_BATCH = 8192  # representatives per FAISS add while rebuilding


class StoreBlockRows:
    """`memory_memories`, `memory_blocks`, `memory_reps`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get_memory(self, name: str) -> MemoryInfo:
        """The memory called `name`.

        Raises:
            MemoryNotFoundError: when there is none.
            MemoryFormatError: when its rows are of another format version.
        """
        rows = self.store.query(
            "SELECT id, name, kind, encoder, dim, block_tokens, reps, format_version"
            " FROM memory_memories WHERE name = ?", (name,))
        if not rows:
            raise MemoryNotFoundError(f"no memory named {name!r}")
        *fields, version = tuple(rows[0])
        if version != FORMAT_VERSION:
            raise MemoryFormatError(f"memory {name!r} has format {version}, not {FORMAT_VERSION}")
        return MemoryInfo(*fields)

    def create_memory(self, name: str, *, kind: str, encoder: str, dim: int, block_tokens: int,
                      reps: int) -> MemoryInfo:
        """Create the memory `name`, or return it when it exists."""
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO memory_memories (name, kind, encoder, dim, block_tokens,"
                " reps, format_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, kind, encoder, dim, block_tokens, reps, FORMAT_VERSION, time.time()))
        return self.get_memory(name)

    def delete_memory(self, memory_id: int) -> None:
        """Delete a memory with its blocks and representatives (one transaction)."""
        with self.store.transaction() as conn:
            for table in ("memory_reps", "memory_blocks"):
                conn.execute(f"DELETE FROM {table} WHERE memory_id = ?", (memory_id,))
            conn.execute("DELETE FROM memory_memories WHERE id = ?", (memory_id,))

    def memory_names(self, prefix: str) -> list[str]:
        """Names of the memories starting with `prefix` (exact, no LIKE wildcards)."""
        rows = self.store.query("SELECT name FROM memory_memories WHERE substr(name, 1, ?) = ?"
                                " ORDER BY id", (len(prefix), prefix))
        return [r[0] for r in rows]

    def add_blocks(self, memory_id: int, blocks: Sequence[BlockRow], reps: Sequence[RepRow]) -> None:
        """Store blocks and their representatives in one transaction."""
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT INTO memory_blocks VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(memory_id, b.block_id, b.source, b.start, b.end, b.n_tokens, b.text)
                 for b in blocks])
            conn.executemany(
                "INSERT INTO memory_reps VALUES (?, ?, ?, ?, ?, ?)",
                [(memory_id, r.block_id, r.j, r.start, r.end,
                  np.asarray(r.vector, "<f4").tobytes()) for r in reps])

    def block_spans(self, memory_id: int) -> list[tuple[int, str, int, int, int]]:
        """`(block_id, source, start, end, n_tokens)` of every block, in block order."""
        rows = self.store.query(
            "SELECT block_id, source, start_char, end_char, n_tokens FROM memory_blocks"
            " WHERE memory_id = ? ORDER BY block_id", (memory_id,))
        return [tuple(r) for r in rows]

    def iter_block_texts(self, memory_id: int, batch: int = 4096) -> Iterator[list[str]]:
        """Block texts in block order, `batch` at a time."""
        last = -1
        while True:
            rows = self.store.query(
                "SELECT block_id, text FROM memory_blocks WHERE memory_id = ? AND block_id > ?"
                " ORDER BY block_id LIMIT ?", (memory_id, last, batch))
            if not rows:
                return
            last = rows[-1][0]
            yield [r[1] for r in rows]

    def block_payloads(self, memory_id: int, block_ids: Sequence[int], dim: int,
                       ) -> dict[int, tuple[str, np.ndarray]]:
        """Text and representative vectors of the given blocks (two queries per batch)."""
        out: dict[int, tuple[str, np.ndarray]] = {}
        ids = list(dict.fromkeys(int(b) for b in block_ids))
        for start in range(0, len(ids), _BATCH):
            part = ids[start:start + _BATCH]
            marks = ",".join("?" * len(part))
            texts = self.store.query(f"SELECT block_id, text FROM memory_blocks WHERE memory_id = ?"
                                     f" AND block_id IN ({marks})", (memory_id, *part))
            vecs: dict[int, list[bytes]] = {}
            for block_id, blob in self.store.query(
                    f"SELECT block_id, vector FROM memory_reps WHERE memory_id = ? AND block_id IN"
                    f" ({marks}) ORDER BY block_id, j", (memory_id, *part)):
                vecs.setdefault(block_id, []).append(blob)
            for block_id, text in texts:
                blob = b"".join(vecs.get(block_id, []))
                out[block_id] = (text, np.frombuffer(blob, "<f4").reshape(-1, dim))
        return out

    def rep_count(self, memory_id: int) -> int:
        """How many representatives the memory holds."""
        rows = self.store.query("SELECT COUNT(*) FROM memory_reps WHERE memory_id = ?", (memory_id,))
        return int(rows[0][0])

    def iter_reps(self, memory_id: int, dim: int, *, stride: int,
                  ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`(ids, vectors)` batches of every representative, id = block_id * stride + j
        (keyset pages, so no cursor stays open between batches)."""
        last = (-1, -1)
        while True:
            rows = self.store.query(
                "SELECT block_id, j, vector FROM memory_reps WHERE memory_id = ? AND"
                " (block_id, j) > (?, ?) ORDER BY block_id, j LIMIT ?",
                (memory_id, *last, _REP_BATCH))
            if not rows:
                return
            last = (rows[-1][0], rows[-1][1])
            ids = np.fromiter((r[0] * stride + r[1] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(-1, dim)
            yield ids, vecs


_SESSION_SQL = ("SELECT s.id, s.name, s.created_at, m.collection, m.metadata FROM memory_sessions s"
                " LEFT JOIN memory_session_meta m ON m.session_id = s.id")
_TIERS = (("messages", "memory_messages"), ("core", "memory_core"), ("archival", "memory_archival"))


class StoreSessionRows:
    """`memory_sessions`, `memory_session_meta`, `memory_messages`, `memory_core`,
    `memory_archival`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def insert_session(self, session: Session) -> None:
        """Store a new session (its row and its collection and metadata, one transaction)."""
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO memory_sessions VALUES (?, ?, ?)",
                         (session.id, session.name, session.created_at))
            conn.execute("INSERT INTO memory_session_meta VALUES (?, ?, ?)",
                         (session.id, session.collection, json.dumps(session.metadata)))

    def get_session(self, session_id: str) -> Session | None:
        """The session, or None."""
        rows = self.store.query(f"{_SESSION_SQL} WHERE s.id = ?", (session_id,))
        return _session(rows[0]) if rows else None

    def list_sessions(self) -> list[Session]:
        """Every session, oldest first."""
        return [_session(r) for r in self.store.query(f"{_SESSION_SQL} ORDER BY s.created_at")]

    def delete_session(self, session_id: str) -> None:
        """Delete a session and every record of its tiers (one transaction)."""
        with self.store.transaction() as conn:
            for _, table in (*_TIERS, ("meta", "memory_session_meta")):
                conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM memory_sessions WHERE id = ?", (session_id,))

    def counts(self, session_id: str) -> dict[str, int]:
        """How many messages, core facts and archival records the session holds."""
        return {tier: int(self.store.query(f"SELECT COUNT(*) FROM {table} WHERE session_id = ?",
                                           (session_id,))[0][0])
                for tier, table in _TIERS}

    def append_message(self, session_id: str, role: str, content: str, created_at: float) -> Message:
        """Store a turn under the next `seq` (read and written in one transaction)."""
        with self.store.transaction() as conn:
            self.store.backend.lock_name(conn, f"session:{session_id}")  # replicas: one next seq
            seq = conn.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM memory_messages"
                               " WHERE session_id = ?", (session_id,)).fetchone()[0]
            conn.execute("INSERT INTO memory_messages VALUES (?, ?, ?, ?, ?)",
                         (session_id, seq, role, content, created_at))
        return Message(session_id, int(seq), role, content, created_at)

    def messages(self, session_id: str, *, since: int = 0, limit: int | None = None) -> list[Message]:
        """Messages with `seq >= since`, in order (at most `limit`)."""
        rows = self.store.query(
            "SELECT session_id, seq, role, content, created_at FROM memory_messages"
            " WHERE session_id = ? AND seq >= ? ORDER BY seq" + ("" if limit is None else " LIMIT ?"),
            (session_id, since) + (() if limit is None else (limit,)))  # no LIMIT -1 in PostgreSQL
        return [Message(*r) for r in rows]

    def messages_by_seq(self, session_id: str, seqs: Sequence[int]) -> list[Message]:
        """The messages with these `seq`s, in order."""
        found: list[Message] = []
        wanted = sorted({int(s) for s in seqs})
        for start in range(0, len(wanted), _BATCH):
            part = wanted[start:start + _BATCH]
            rows = self.store.query(
                "SELECT session_id, seq, role, content, created_at FROM memory_messages"
                f" WHERE session_id = ? AND seq IN ({','.join('?' * len(part))}) ORDER BY seq",
                (session_id, *part))
            found.extend(Message(*r) for r in rows)
        return found

    def core(self, session_id: str) -> dict[str, str]:
        """Pinned facts, key -> value, by key."""
        rows = self.store.query("SELECT key, value FROM memory_core WHERE session_id = ?"
                                " ORDER BY key", (session_id,))
        return {r[0]: r[1] for r in rows}

    def set_core(self, session_id: str, key: str, value: str, updated_at: float) -> None:
        """Pin or replace one fact."""
        with self.store.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO memory_core VALUES (?, ?, ?, ?)",
                         (session_id, key, value, updated_at))

    def replace_core(self, session_id: str, facts: Mapping[str, str], updated_at: float) -> None:
        """Replace every pinned fact (one transaction)."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM memory_core WHERE session_id = ?", (session_id,))
            conn.executemany("INSERT INTO memory_core VALUES (?, ?, ?, ?)",
                             [(session_id, k, v, updated_at) for k, v in facts.items()])

    def delete_core(self, session_id: str, key: str) -> bool:
        """Unpin one fact; False when it was not pinned."""
        with self.store.transaction() as conn:
            cursor = conn.execute("DELETE FROM memory_core WHERE session_id = ? AND key = ?",
                                  (session_id, key))
        return cursor.rowcount > 0

    def insert_archival(self, session_id: str, text: str, created_at: float) -> ArchivalRecord:
        """Store a passage under the next id (read and written in one transaction)."""
        with self.store.transaction() as conn:
            self.store.backend.lock_name(conn, f"session:{session_id}")
            rec_id = conn.execute("SELECT COALESCE(MAX(id), -1) + 1 FROM memory_archival"
                                  " WHERE session_id = ?", (session_id,)).fetchone()[0]
            conn.execute("INSERT INTO memory_archival VALUES (?, ?, ?, ?)",
                         (session_id, rec_id, text, created_at))
        return ArchivalRecord(int(rec_id), text, created_at)

    def archival(self, session_id: str) -> list[ArchivalRecord]:
        """Every archival record of a session, by id."""
        rows = self.store.query("SELECT id, text, created_at FROM memory_archival"
                                " WHERE session_id = ? ORDER BY id", (session_id,))
        return [ArchivalRecord(*r) for r in rows]


def _session(row: Sequence) -> Session:
    session_id, name, created_at, collection, metadata = tuple(row)
    return Session(session_id, name, created_at, collection, json.loads(metadata or "{}"))
