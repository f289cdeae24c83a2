"""The store, the single source of truth: collections, documents, chunks, ops log, jobs.

On SQLite (the embedded default: WAL, one connection per thread) or PostgreSQL (a
connection pool, several replicas), chosen by `open_backend` (rag/storage/backend.py);
the SQL is SQLite's, rewritten for PostgreSQL in one place (rag/storage/dialect.py).
Every write is one transaction, and a write is acknowledged only after it commits.
Index files are derived from these tables and are rebuilt from them
(rag/indexing/manager.py) by replaying the ops log.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.errors import ConflictError, NotFoundError
from rag.storage.backend import Backend, open_backend, store_location
from rag.storage.document_rows import delete_document_rows, document_dict, insert_document, log_op
from rag.storage.errors import INTEGRITY_ERRORS
from rag.storage.job_claims import job_filter
from rag.storage.rows import (
    ChunkRow,
    CollectionRow,
    DocumentText,
    NewDocument,
    validate_collection_name,
)


class Store:
    """Typed access to the database at `location`: a SQLite file path, sqlite:///path or
    postgresql://... (`pool_size`: PostgreSQL connections at most)."""

    def __init__(self, location: Path | str, *, pool_size: int = 10) -> None:
        self.backend: Backend = open_backend(location, pool_size=pool_size)
        self.url = self.backend.url  # rag/storage/lock.py elects an indexer on PostgreSQL
        self.path = self.backend.path  # the SQLite file (None on PostgreSQL)

    @classmethod
    def for_settings(cls, settings: Any) -> Store:
        """The store `settings.store` names (empty url: the SQLite file in the data dir)."""
        return cls(store_location(settings.store.url, settings.data_dir),
                   pool_size=settings.store.pool_size)

    @property
    def shared(self) -> bool:
        """True when several processes may use the database at once (PostgreSQL): no
        data-dir flock then."""
        return self.backend.shared

    def connect(self) -> Store:
        """Create the database if needed and apply migrations."""
        self.backend.connect()
        return self

    def _conn(self) -> Any:
        """This thread's SQLite connection (tests and the SQLite-only tools)."""
        return self.backend.conn()  # type: ignore[attr-defined]

    def close(self) -> None:
        """Close this thread's connection (SQLite) or the pool (PostgreSQL)."""
        self.backend.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One write transaction, rolled back on error; its connection's `execute` takes
        SQLite's SQL on both backends.

        Inside another transaction of this thread it is a SAVEPOINT of that one: its
        writes commit or roll back with the outer transaction (a session and its owner).

        Raises:
            StorageError: when the disk is full or the database cannot be written or
                reached (nothing is committed).
        """
        with self.backend.transaction() as conn:
            yield conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a read query (rows with key and index access on both backends)."""
        return self.backend.query(sql, params)

    # -- collections ----------------------------------------------------------
    def create_collection(self, name: str, *, embedder: str, dim: int,
                          owner_key_id: int | None = None) -> CollectionRow:
        """Create a collection pinned to an embedder (owned by `owner_key_id`, if any).

        Raises:
            InvalidInputError: on a bad name. ConflictError: when it exists.
        """
        validate_collection_name(name)
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO collections(name, embedder, dim, created, owner_key_id)"
                    " VALUES (?,?,?,?,?)", (name, embedder, dim, time.time(), owner_key_id),
                )
        except INTEGRITY_ERRORS as exc:
            raise ConflictError(f"collection {name!r} already exists") from exc
        return self.get_collection(name)

    def get_collection(self, name: str) -> CollectionRow:
        """The collection called `name`.

        Raises:
            NotFoundError: when there is none.
        """
        validate_collection_name(name)
        rows = self.query("SELECT id, name, embedder, dim, created, owner_key_id FROM collections"
                          " WHERE name=?", (name,))
        if not rows:
            raise NotFoundError(f"collection {name!r} not found")
        return CollectionRow(**dict(rows[0]))

    def list_collections(self) -> list[dict[str, Any]]:
        """Every collection with its document and chunk counts."""
        rows = self.query(
            "SELECT c.id, c.name, c.embedder, c.dim, c.created, c.owner_key_id,"
            " (SELECT COUNT(*) FROM documents d WHERE d.collection_id=c.id) AS documents,"
            " (SELECT COUNT(*) FROM chunks k WHERE k.collection_id=c.id) AS chunks"
            " FROM collections c ORDER BY c.name"
        )
        return [dict(r) for r in rows]

    def delete_collection(self, name: str) -> None:
        """Delete a collection with its documents, chunks, ops and jobs."""
        collection = self.get_collection(name)
        with self.transaction() as conn:
            self.backend.lock_collection(conn, collection.id)
            for table in ("chunks", "documents", "ops", "jobs"):
                conn.execute(f"DELETE FROM {table} WHERE collection_id=?", (collection.id,))
            conn.execute("DELETE FROM collections WHERE id=?", (collection.id,))

    # -- documents ------------------------------------------------------------
    def add_documents(self, collection: CollectionRow, docs: Sequence[NewDocument],
                      ) -> tuple[list[dict[str, str]], int | None]:
        """Store documents and their chunks, and log one `add` op, in one transaction.

        A document whose content hash is already in the collection is a duplicate and is
        not stored again; a document whose id exists with other content replaces it.

        Returns:
            ([{"id", "status"}] per input document, the op's sequence number or None).
        """
        results: list[dict[str, str]] = []
        added: list[int] = []
        removed: list[int] = []
        with self.transaction() as conn:
            self.backend.lock_collection(conn, collection.id)  # ids grow in commit order
            for doc in docs:
                status, doc_id, chunk_ids, old_chunks = insert_document(conn, collection.id, doc)
                results.append({"id": doc_id, "status": status})
                added.extend(chunk_ids)
                removed.extend(old_chunks)
            seq = None
            if removed:
                log_op(conn, collection.id, "delete", removed)
            if added:
                seq = log_op(conn, collection.id, "add", added)
        return results, seq

    def content_hashes(self, collection: CollectionRow) -> frozenset[str]:
        """Every content hash the collection holds: one scan of the (collection_id,
        content_hash) index, no document rows read (a bulk job's dedup before embedding)."""
        rows = self.query("SELECT content_hash FROM documents WHERE collection_id=?",
                          (collection.id,))
        return frozenset(r[0] for r in rows)

    def list_documents(self, collection: CollectionRow, *, limit: int = 100, offset: int = 0,
                       ) -> list[dict[str, Any]]:
        """Documents of a collection (without their text), oldest first."""
        rows = self.query(
            "SELECT d.id, d.title, d.source, d.content_hash, d.metadata, d.created, d.indexed,"
            " length(d.text) AS chars,"
            " (SELECT COUNT(*) FROM chunks k WHERE k.document_pk=d.pk) AS chunks"
            " FROM documents d WHERE d.collection_id=? ORDER BY d.pk LIMIT ? OFFSET ?",
            (collection.id, limit, offset),
        )
        return [document_dict(r) for r in rows]

    def get_document(self, collection: CollectionRow, doc_id: str, *, with_text: bool = False,
                     ) -> dict[str, Any]:
        """One document's record (and text when asked).

        Raises:
            NotFoundError: when the collection has no such document.
        """
        rows = self.query(
            "SELECT d.id, d.title, d.source, d.content_hash, d.metadata, d.created, d.indexed,"
            " d.text, length(d.text) AS chars,"
            " (SELECT COUNT(*) FROM chunks k WHERE k.document_pk=d.pk) AS chunks"
            " FROM documents d WHERE d.collection_id=? AND d.id=?",
            (collection.id, doc_id),
        )
        if not rows:
            raise NotFoundError(f"document {doc_id!r} not found in collection {collection.name!r}")
        record = document_dict(rows[0])
        if not with_text:
            record.pop("text")
        return record

    def document_texts(self, collection: CollectionRow) -> list[DocumentText]:
        """Every document of a collection with its full text, oldest first."""
        rows = self.query("SELECT id, title, text FROM documents WHERE collection_id=? ORDER BY pk",
                          (collection.id,))
        return [DocumentText(r["id"], r["title"], r["text"]) for r in rows]

    def pending_documents(self, collection: CollectionRow) -> int:
        """How many documents of a collection are stored but not searchable yet."""
        rows = self.query("SELECT COUNT(*) FROM documents WHERE collection_id=? AND indexed=0",
                          (collection.id,))
        return int(rows[0][0])

    def delete_document(self, collection: CollectionRow, doc_id: str) -> list[int]:
        """Delete a document and its chunks, logging a `delete` op; returns the chunk ids.

        Raises:
            NotFoundError: when the collection has no such document.
        """
        with self.transaction() as conn:
            self.backend.lock_collection(conn, collection.id)
            row = conn.execute("SELECT pk FROM documents WHERE collection_id=? AND id=?",
                               (collection.id, doc_id)).fetchone()
            if row is None:
                raise NotFoundError(
                    f"document {doc_id!r} not found in collection {collection.name!r}")
            chunk_ids = delete_document_rows(conn, row["pk"])
            log_op(conn, collection.id, "delete", chunk_ids)
            return chunk_ids

    # -- chunks and ops -------------------------------------------------------
    def get_chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        """Chunks by id (ids of deleted chunks are simply absent)."""
        found: dict[int, ChunkRow] = {}
        ids = list(dict.fromkeys(int(i) for i in chunk_ids))
        for start in range(0, len(ids), 900):
            part = ids[start:start + 900]
            rows = self.query(
                "SELECT k.id, d.id AS document_id, d.title, k.text, k.start, k.end, k.ordinal"
                " FROM chunks k JOIN documents d ON d.pk=k.document_pk"
                f" WHERE k.id IN ({','.join('?' * len(part))}) ORDER BY k.id",
                part,
            )
            found.update({r["id"]: ChunkRow(**dict(r)) for r in rows})
        return found

    def chunk_ids(self, collection: CollectionRow) -> list[int]:
        """Every chunk id of a collection, ascending."""
        rows = self.query("SELECT id FROM chunks WHERE collection_id=? ORDER BY id", (collection.id,))
        return [r["id"] for r in rows]

    def chunk_count(self, collection: CollectionRow) -> int:
        """How many chunks a collection holds."""
        return int(self.query("SELECT COUNT(*) FROM chunks WHERE collection_id=?",
                              (collection.id,))[0][0])

    def chunk_document_ids(self, collection: CollectionRow) -> dict[int, str]:
        """Chunk id -> the id of the document it was cut from, for a whole collection."""
        rows = self.query("SELECT k.id, d.id AS doc FROM chunks k JOIN documents d ON"
                          " d.pk=k.document_pk WHERE k.collection_id=?", (collection.id,))
        return {r["id"]: r["doc"] for r in rows}

    def ops_after(self, collection: CollectionRow, seq: int) -> list[tuple[int, str, list[int]]]:
        """Ops of a collection newer than `seq`: (seq, kind, chunk ids), in order."""
        rows = self.query("SELECT seq, kind, chunk_ids FROM ops WHERE collection_id=? AND seq>?"
                          " ORDER BY seq", (collection.id, seq))
        return [(r["seq"], r["kind"], json.loads(r["chunk_ids"])) for r in rows]

    def last_op_seq(self, collection: CollectionRow) -> int:
        """The newest op's sequence number of a collection (0 when none)."""
        rows = self.query("SELECT MAX(seq) AS s FROM ops WHERE collection_id=?", (collection.id,))
        return rows[0]["s"] or 0

    def mark_indexed(self, collection: CollectionRow, chunk_ids: Sequence[int]) -> None:
        """Flag the documents holding `chunk_ids` as searchable."""
        ids = list(chunk_ids)
        with self.transaction() as conn:
            for start in range(0, len(ids), 900):
                part = ids[start:start + 900]
                conn.execute(
                    "UPDATE documents SET indexed=1 WHERE indexed=0 AND pk IN (SELECT DISTINCT"
                    f" document_pk FROM chunks WHERE id IN ({','.join('?' * len(part))}))", part)

    def mark_applied(self, collection: CollectionRow, seq: int) -> None:
        """Flag as searchable the unflagged documents that the ops up to `seq` added.

        Chunks commit with their op, so chunk ids grow with op seq: these are the
        documents with no chunk above the last such op's highest id. This repairs the
        flags of a crash between an index write and `mark_indexed`.
        """
        if not self.query("SELECT 1 FROM documents WHERE collection_id=? AND indexed=0 LIMIT 1",
                          (collection.id,)):
            return
        rows = self.query("SELECT chunk_ids FROM ops WHERE collection_id=? AND kind='add' AND"
                          " seq<=? ORDER BY seq DESC LIMIT 1", (collection.id, seq))
        top = max(json.loads(rows[0]["chunk_ids"]), default=0) if rows else 0
        with self.transaction() as conn:
            conn.execute("UPDATE documents SET indexed=1 WHERE collection_id=? AND indexed=0 AND"
                         " NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_pk=documents.pk"
                         " AND c.id>?)", (collection.id, top))

    # -- jobs -----------------------------------------------------------------
    def create_job(self, collection: CollectionRow | None, *, kind: str, total: int,
                   payload: dict[str, Any] | None = None, owner_key_id: int | None = None) -> str:
        """Record a queued job; returns its id. It is charged to `owner_key_id`, by default
        the collection's owner (per-key job limits, rag/service/keys.py)."""
        job_id = uuid.uuid4().hex
        now = time.time()
        if owner_key_id is None and collection is not None:
            owner_key_id = collection.owner_key_id
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO jobs(id, kind, collection_id, status, done, total, payload, created,"
                " updated, owner_key_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (job_id, kind, collection.id if collection else None, "queued", 0, total,
                 json.dumps(payload or {}), now, now, owner_key_id))
        return job_id

    def update_job(self, job_id: str, **fields: Any) -> None:
        """Set job fields among status, done, total, error."""
        allowed = {"status", "done", "total", "error", "stage", "result"}
        if "result" in fields:
            fields["result"] = json.dumps(fields["result"])
        if not fields or set(fields) - allowed:
            raise ValueError(f"job fields must be among {sorted(allowed)}, got {sorted(fields)}")
        sets = ", ".join(f"{k}=?" for k in fields)
        with self.transaction() as conn:
            conn.execute(f"UPDATE jobs SET {sets}, updated=? WHERE id=?",
                         (*fields.values(), time.time(), job_id))

    def get_job(self, job_id: str) -> dict[str, Any]:
        """A job's status and progress.

        Raises:
            NotFoundError: when there is no such job.
        """
        rows = self.query(
            "SELECT j.id, j.kind, j.status, j.done, j.total, j.error, j.stage, j.payload, j.result,"
            " j.created, j.updated, j.owner_key_id, c.name AS collection FROM jobs j"
            " LEFT JOIN collections c ON c.id=j.collection_id WHERE j.id=?", (job_id,))
        if not rows:
            raise NotFoundError(f"job {job_id!r} not found")
        job = dict(rows[0])
        job["payload"] = json.loads(job["payload"])
        job["result"] = json.loads(job["result"]) if job["result"] else None
        return job

    def claim_jobs(self, *, job_id: str | None = None, kind: str | None = None,
                   not_kind: str | None = None, collection_id: int | None = None,
                   statuses: Sequence[str] = ("queued",), limit: int = 1) -> list[str]:
        """Move the oldest matching jobs to `running` (one worker each: BEGIN IMMEDIATE
        serializes claims; PostgreSQL uses SKIP LOCKED); returns their ids."""
        where, params = job_filter(job_id, kind, not_kind, collection_id, statuses)
        with self.transaction() as conn:
            ids = [r[0] for r in conn.execute(
                f"SELECT id FROM jobs WHERE {where} ORDER BY created LIMIT ?"  # noqa: S608
                f"{self.backend.skip_locked}",
                (*params, limit))]
            conn.executemany("UPDATE jobs SET status='running', updated=? WHERE id=?",
                             [(time.time(), i) for i in ids])
        return ids

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        """Queued or running jobs, oldest first (running ones were cut off by a stop)."""
        rows = self.query("SELECT j.id, j.kind, c.name AS collection FROM jobs j LEFT JOIN"
                          " collections c ON c.id=j.collection_id"
                          " WHERE j.status IN ('queued','running') ORDER BY j.created")
        return [dict(r) for r in rows]

