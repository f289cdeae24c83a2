"""The SQL of document writes inside a store transaction (rag/storage/store.py): insert a
document with its chunks (dedup by content hash, replace by id), delete its rows, log an op."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from rag.storage.rows import NewDocument


def log_op(conn: Any, collection_id: int, kind: str, chunk_ids: list[int]) -> int:
    """Append an `add`/`delete` op of `chunk_ids`; returns its sequence number."""
    cursor = conn.execute("INSERT INTO ops(collection_id, kind, chunk_ids, created) VALUES (?,?,?,?)",
                          (collection_id, kind, json.dumps(chunk_ids), time.time()))
    return int(cursor.lastrowid)


def delete_document_rows(conn: Any, pk: int) -> list[int]:
    """Delete a document and its chunks; returns the chunk ids."""
    chunk_ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE document_pk=?", (pk,))]
    conn.execute("DELETE FROM chunks WHERE document_pk=?", (pk,))
    conn.execute("DELETE FROM documents WHERE pk=?", (pk,))
    return chunk_ids


def insert_document(conn: Any, collection_id: int, doc: NewDocument,
                     ) -> tuple[str, str, list[int], list[int]]:
    """Insert one document; returns (status, id, new chunk ids, replaced chunk ids)."""
    dup = conn.execute("SELECT id FROM documents WHERE collection_id=? AND content_hash=?",
                       (collection_id, doc.content_hash)).fetchone()
    if dup is not None:
        return "duplicate", dup["id"], [], []
    doc_id = doc.external_id or uuid.uuid4().hex[:16]
    old = conn.execute("SELECT pk FROM documents WHERE collection_id=? AND id=?",
                       (collection_id, doc_id)).fetchone()
    replaced = delete_document_rows(conn, old["pk"]) if old is not None else []
    cursor = conn.execute(
        "INSERT INTO documents(collection_id, id, content_hash, source, title, metadata, text,"
        " created) VALUES (?,?,?,?,?,?,?,?)",
        (collection_id, doc_id, doc.content_hash, doc.source, doc.title,
         json.dumps(doc.metadata, ensure_ascii=False), doc.text, time.time()))
    pk = cursor.lastrowid
    conn.executemany(
        'INSERT INTO chunks(document_pk, collection_id, ordinal, text, start, "end")'  # a PostgreSQL keyword
        " VALUES (?,?,?,?,?,?)",
        [(pk, collection_id, n, doc.text[s:e], s, e) for n, (s, e) in enumerate(doc.spans)])
    # Read back, not MIN..MAX: PostgreSQL's identity values of concurrent writers interleave.
    chunk_ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE document_pk=? ORDER BY id", (pk,))]
    return ("updated" if old is not None else "created"), doc_id, chunk_ids, replaced


def document_dict(row: Any) -> dict[str, Any]:
    """A document row as a record: metadata parsed, `indexed` as status indexed/pending."""
    record = dict(row)
    record["metadata"] = json.loads(record["metadata"] or "{}")
    record["status"] = "indexed" if record.pop("indexed") else "pending"
    return record
