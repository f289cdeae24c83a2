"""SQLite persistence of memories, blocks, representatives and session tiers; FAISS files.

SQLite is the truth: block texts and representative vectors live in `memory_*` tables
(created with `CREATE TABLE IF NOT EXISTS`, so the service's main database can host
them). Each memory's FAISS index is derived from those rows and rebuilt when missing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memory.errors import MemoryFormatError, MemoryNotFoundError

FORMAT_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS memory_memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    encoder TEXT NOT NULL, dim INTEGER NOT NULL, block_tokens INTEGER NOT NULL,
    reps INTEGER NOT NULL, format_version INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS memory_blocks (
    memory_id INTEGER NOT NULL, block_id INTEGER NOT NULL, source TEXT NOT NULL,
    start_char INTEGER NOT NULL, end_char INTEGER NOT NULL, n_tokens INTEGER NOT NULL,
    text TEXT NOT NULL, PRIMARY KEY (memory_id, block_id));
CREATE TABLE IF NOT EXISTS memory_reps (
    memory_id INTEGER NOT NULL, block_id INTEGER NOT NULL, j INTEGER NOT NULL,
    start_char INTEGER NOT NULL, end_char INTEGER NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (memory_id, block_id, j));
CREATE TABLE IF NOT EXISTS memory_sessions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS memory_session_meta (
    session_id TEXT PRIMARY KEY, collection TEXT, metadata TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS memory_messages (
    session_id TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL,
    content TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (session_id, seq));
CREATE TABLE IF NOT EXISTS memory_core (
    session_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    updated_at REAL NOT NULL, PRIMARY KEY (session_id, key));
CREATE TABLE IF NOT EXISTS memory_archival (
    session_id TEXT NOT NULL, id INTEGER NOT NULL, text TEXT NOT NULL,
    created_at REAL NOT NULL, PRIMARY KEY (session_id, id));
"""


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


class MemoryStore:
    """SQLite tables `memory_*` in `db_path` plus one FAISS file per memory in `faiss_dir`.

    The constructor only records paths; `open()` connects and creates the tables.
    """

    def __init__(self, db_path: str | Path, faiss_dir: str | Path) -> None:
        self.db_path = Path(db_path)
        self.faiss_dir = Path(faiss_dir)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    def open(self) -> MemoryStore:
        """Connect (WAL) and create the tables; idempotent."""
        with self._lock:
            if self._conn is None:
                self.db_path.parent.mkdir(parents=True, exist_ok=True)
                self.faiss_dir.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.db_path, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
                self._conn = conn
        return self

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A locked connection; commits on success, rolls back on error."""
        with self._lock:
            conn = self.open()._conn
            assert conn is not None
            with conn:
                yield conn

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run a read query and return all rows."""
        with self._lock:
            conn = self.open()._conn
            assert conn is not None
            return conn.execute(sql, tuple(params)).fetchall()

    # -- memories ---------------------------------------------------------------------

    def get_memory(self, name: str) -> MemoryInfo:
        """The memory called `name`.

        Raises:
            MemoryNotFoundError: when there is none.
            MemoryFormatError: when it was written by an unknown format version.
        """
        rows = self.query(
            "SELECT id, name, kind, encoder, dim, block_tokens, reps, format_version "
            "FROM memory_memories WHERE name = ?",
            (name,),
        )
        if not rows:
            raise MemoryNotFoundError(f"no memory named {name!r}")
        *fields, version = rows[0]
        if version != FORMAT_VERSION:
            raise MemoryFormatError(f"memory {name!r} has format {version}, not {FORMAT_VERSION}")
        return MemoryInfo(*fields)

    def create_memory(
        self, name: str, *, kind: str, encoder: str, dim: int, block_tokens: int, reps: int
    ) -> MemoryInfo:
        """Create the memory `name` (or return it when it exists with the same encoder)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO memory_memories (name, kind, encoder, dim, block_tokens,"
                " reps, format_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, kind, encoder, dim, block_tokens, reps, FORMAT_VERSION, time.time()),
            )
        return self.get_memory(name)

    def delete_memory(self, name: str) -> None:
        """Delete a memory's rows and FAISS file (no error when absent)."""
        try:
            info = self.get_memory(name)
        except MemoryNotFoundError:
            return
        with self.transaction() as conn:
            for table in ("memory_reps", "memory_blocks"):
                conn.execute(f"DELETE FROM {table} WHERE memory_id = ?", (info.id,))
            conn.execute("DELETE FROM memory_memories WHERE id = ?", (info.id,))
        self.faiss_path(info.id).unlink(missing_ok=True)

    # -- blocks and representatives ----------------------------------------------------

    def add_blocks(self, memory_id: int, blocks: Sequence[BlockRow], reps: Sequence[RepRow]) -> None:
        """Store blocks and their representatives in one transaction."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO memory_blocks VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(memory_id, b.block_id, b.source, b.start, b.end, b.n_tokens, b.text) for b in blocks],
            )
            conn.executemany(
                "INSERT INTO memory_reps VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        memory_id,
                        r.block_id,
                        r.j,
                        r.start,
                        r.end,
                        np.asarray(r.vector, "<f4").tobytes(),
                    )
                    for r in reps
                ],
            )

    def block_spans(self, memory_id: int) -> list[tuple[int, str, int, int, int]]:
        """`(block_id, source, start, end, n_tokens)` of every block, in block order."""
        return self.query(
            "SELECT block_id, source, start_char, end_char, n_tokens FROM memory_blocks "
            "WHERE memory_id = ? ORDER BY block_id",
            (memory_id,),
        )

    def iter_block_texts(self, memory_id: int, batch: int = 4096) -> Iterator[list[str]]:
        """Block texts in block order, `batch` at a time."""
        last = -1
        while True:
            rows = self.query(
                "SELECT block_id, text FROM memory_blocks WHERE memory_id = ? AND block_id > ? "
                "ORDER BY block_id LIMIT ?",
                (memory_id, last, batch),
            )
            if not rows:
                return
            last = rows[-1][0]
            yield [text for _, text in rows]

    def block_payloads(
        self, memory_id: int, block_ids: Sequence[int], dim: int
    ) -> dict[int, tuple[str, np.ndarray]]:
        """Text and representative vectors of the given blocks (two queries)."""
        if not block_ids:
            return {}
        marks = ",".join("?" * len(block_ids))
        texts = self.query(
            f"SELECT block_id, text FROM memory_blocks WHERE memory_id = ? AND block_id IN ({marks})",
            (memory_id, *block_ids),
        )
        vecs: dict[int, list[bytes]] = {}
        for block_id, blob in self.query(
            "SELECT block_id, vector FROM memory_reps WHERE memory_id = ? "
            f"AND block_id IN ({marks}) ORDER BY block_id, j",
            (memory_id, *block_ids),
        ):
            vecs.setdefault(block_id, []).append(blob)
        return {
            block_id: (
                text,
                np.frombuffer(b"".join(vecs.get(block_id, [])), "<f4").reshape(-1, dim),
            )
            for block_id, text in texts
        }

    def iter_reps(self, memory_id: int, dim: int, *, stride: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """`(ids, vectors)` batches of every representative, id = block_id * stride + j."""
        with self._lock:
            conn = self.open()._conn
            assert conn is not None
            cursor = conn.execute(
                "SELECT block_id * ? + j, vector FROM memory_reps WHERE memory_id = ? ORDER BY block_id, j",
                (stride, memory_id),
            )
            while rows := cursor.fetchmany(8192):
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(-1, dim)
                yield ids, vecs

    def faiss_path(self, memory_id: int) -> Path:
        """Where the FAISS index of memory `memory_id` lives."""
        return self.faiss_dir / f"memory-{memory_id}.faiss"

    def write_faiss(self, memory_id: int, index: object) -> None:
        """Write a FAISS index atomically (temp file, fsync, rename, directory fsync)."""
        import faiss

        path = self.faiss_path(memory_id)
        tmp = path.with_suffix(".faiss.tmp")
        faiss.write_index(index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(self.faiss_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
