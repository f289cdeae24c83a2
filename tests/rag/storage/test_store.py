"""The store contract on both backends (SQLite and a real PostgreSQL: the `store` fixture is
parametrized): collections, documents, ops log, jobs; SQLite's own schema and migrations."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from rag.errors import ConflictError, InvalidInputError, NotFoundError
from rag.storage.migrations import MIGRATIONS, migrate, schema_version
from rag.storage.store import NewDocument, Store, validate_collection_name

pytestmark = pytest.mark.unit


def doc(text: str, *, title: str = "T", external_id: str | None = None,
        spans: list[tuple[int, int]] | None = None) -> NewDocument:
    return NewDocument(
        text=text, title=title, source="test.txt", metadata={"k": "v"},
        content_hash=hashlib.sha256(f"{title}\0{text}".encode()).hexdigest(),
        spans=spans if spans is not None else [(0, len(text))], external_id=external_id)


@pytest.fixture
def store(store_location) -> Store:
    s = Store(store_location).connect()
    yield s
    s.close()


@pytest.fixture
def coll(store):
    return store.create_collection("docs", embedder="all-MiniLM-L6-v2", dim=384)


# -- schema -------------------------------------------------------------------
def test_migrations_create_the_schema(tmp_path) -> None:
    store = Store(tmp_path / "db" / "ragmem.sqlite3").connect()
    conn = store._conn()
    assert schema_version(conn) == len(MIGRATIONS) >= 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"collections", "documents", "chunks", "ops", "jobs"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    doc_cols = {r[1] for r in conn.execute("PRAGMA table_info(documents)")}
    assert {"id", "content_hash", "source", "title", "metadata", "created", "text"} <= doc_cols
    chunk_cols = {r[1] for r in conn.execute("PRAGMA table_info(chunks)")}
    assert {"id", "document_pk", "ordinal", "text", "start", "end"} <= chunk_cols


def test_migrations_are_idempotent(tmp_path) -> None:
    path = tmp_path / "ragmem.sqlite3"
    first = Store(path).connect()
    c = first.create_collection("a", embedder="e", dim=3)
    first.add_documents(c, [doc("hello world")])
    first.close()
    again = Store(path).connect()  # a second start re-runs migrate(): nothing changes
    assert migrate(again._conn()) == len(MIGRATIONS)
    assert schema_version(again._conn()) == len(MIGRATIONS)
    assert [r["documents"] for r in again.list_collections()] == [1]
    again.close()


def test_a_v1_database_is_upgraded_in_place(tmp_path) -> None:
    path = tmp_path / "ragmem.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.execute("INSERT INTO collections(name, embedder, dim, created) VALUES ('old','e',3,0)")
    conn.close()
    store = Store(path).connect()
    assert schema_version(store._conn()) == len(MIGRATIONS)
    old = store.get_collection("old")
    results, _ = store.add_documents(old, [doc("kept across the upgrade")])
    assert results[0]["status"] == "created"
    assert store.get_job(store.create_job(old, kind="index", total=1))["status"] == "queued"
    store.close()


def test_newer_schema_is_refused(tmp_path) -> None:
    path = tmp_path / "ragmem.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="v99"):
        Store(path).connect()


# -- collections --------------------------------------------------------------
@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 65, "café", "名前",
                                  "-dash", "a b", "a\\b", "a\nb", "docs\n", None, 5])
def test_bad_collection_names(store, name) -> None:
    with pytest.raises(InvalidInputError, match="invalid collection name"):
        validate_collection_name(name)
    with pytest.raises(InvalidInputError):
        store.create_collection(name, embedder="e", dim=3)
    assert store.list_collections() == []


@pytest.mark.parametrize("name", ["a", "docs", "A-1_b.c", "x" * 64, "0"])
def test_good_collection_names(store, name) -> None:
    assert store.create_collection(name, embedder="e", dim=3).name == name


def test_collection_lifecycle(store, coll) -> None:
    assert (coll.name, coll.embedder, coll.dim) == ("docs", "all-MiniLM-L6-v2", 384)
    assert store.get_collection("docs") == coll
    with pytest.raises(ConflictError, match="already exists"):
        store.create_collection("docs", embedder="e", dim=3)
    with pytest.raises(NotFoundError, match="nope"):
        store.get_collection("nope")
    with pytest.raises(NotFoundError):
        store.delete_collection("nope")
    listed = store.list_collections()
    assert [(r["name"], r["documents"], r["chunks"]) for r in listed] == [("docs", 0, 0)]


def test_delete_collection_removes_everything(store, coll) -> None:
    store.add_documents(coll, [doc("one two", spans=[(0, 3), (4, 7)])])
    store.create_job(coll, kind="index", total=2)
    store.delete_collection("docs")
    with pytest.raises(NotFoundError):
        store.get_collection("docs")
    for table in ("documents", "chunks", "ops", "jobs", "collections"):
        assert store.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] == 0, table
    again = store.create_collection("docs", embedder="e", dim=3)
    assert again.id != coll.id  # ids are never reused, so stale index files cannot match


# -- documents ----------------------------------------------------------------
def test_add_stores_document_chunks_and_one_add_op(store, coll) -> None:
    text = "First sentence here. Second sentence there."
    results, seq = store.add_documents(coll, [doc(text, spans=[(0, 20), (21, len(text))])])
    assert [r["status"] for r in results] == ["created"]
    doc_id = results[0]["id"]
    record = store.get_document(coll, doc_id, with_text=True)
    assert record["text"] == text and record["chunks"] == 2 and record["status"] == "pending"
    assert record["metadata"] == {"k": "v"} and record["title"] == "T"
    assert "text" not in store.get_document(coll, doc_id)
    ops = store.ops_after(coll, 0)
    assert [(s, kind) for s, kind, _ in ops] == [(seq, "add")]
    chunks = store.get_chunks(ops[0][2])
    assert [(c.text, c.start, c.end, c.ordinal) for c in chunks.values()] == [
        ("First sentence here.", 0, 20, 0), ("Second sentence there.", 21, len(text), 1)]
    assert all(text[c.start:c.end] == c.text and c.document_id == doc_id for c in chunks.values())
    assert store.last_op_seq(coll) == seq


def test_dedup_by_content_hash(store, coll) -> None:
    first, seq1 = store.add_documents(coll, [doc("same text", external_id="a")])
    again, seq2 = store.add_documents(coll, [doc("same text", external_id="b"),
                                             doc("same text")])
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert {r["id"] for r in again} == {"a"}
    assert seq2 is None and store.last_op_seq(coll) == seq1
    assert len(store.list_documents(coll)) == 1
    # the same text with another title is another document
    other, _ = store.add_documents(coll, [doc("same text", title="Other")])
    assert other[0]["status"] == "created"
    # duplicates within one request
    results, _ = store.add_documents(coll, [doc("fresh"), doc("fresh")])
    assert [r["status"] for r in results] == ["created", "duplicate"]
    assert results[0]["id"] == results[1]["id"]


def test_content_hashes_are_the_collections_documents(store, coll) -> None:
    assert store.content_hashes(coll) == frozenset()
    store.add_documents(coll, [doc("one"), doc("two"), doc("one")])
    other = store.create_collection("other", embedder="e", dim=4)
    store.add_documents(other, [doc("three")])
    assert store.content_hashes(coll) == {doc("one").content_hash, doc("two").content_hash}
    assert store.content_hashes(other) == {doc("three").content_hash}


def test_dedup_is_per_collection(store, coll) -> None:
    other = store.create_collection("other", embedder="e", dim=3)
    store.add_documents(coll, [doc("shared text")])
    results, _ = store.add_documents(other, [doc("shared text")])
    assert results[0]["status"] == "created"


def test_replace_document_with_same_id(store, coll) -> None:
    store.add_documents(coll, [doc("old text", external_id="d1")])
    old_chunks = store.ops_after(coll, 0)[0][2]
    results, seq = store.add_documents(coll, [doc("new text entirely", external_id="d1")])
    assert results == [{"id": "d1", "status": "updated"}]
    record = store.get_document(coll, "d1", with_text=True)
    assert record["text"] == "new text entirely"
    assert len(store.list_documents(coll)) == 1
    assert store.get_chunks(old_chunks) == {}
    ops = store.ops_after(coll, 0)
    assert [kind for _, kind, _ in ops] == ["add", "delete", "add"]
    assert ops[1][2] == old_chunks
    new_chunks = ops[2][2]
    assert not set(new_chunks) & set(old_chunks)  # chunk ids are never reused
    assert seq == ops[2][0]


def test_delete_document(store, coll) -> None:
    store.add_documents(coll, [doc("keep me", external_id="k"),
                               doc("drop me", external_id="d", spans=[(0, 4), (5, 7)])])
    dropped = store.delete_document(coll, "d")
    assert len(dropped) == 2
    assert store.get_chunks(dropped) == {}
    assert [d["id"] for d in store.list_documents(coll)] == ["k"]
    assert store.ops_after(coll, 0)[-1][1:] == ("delete", dropped)
    with pytest.raises(NotFoundError, match="'d'"):
        store.get_document(coll, "d")
    with pytest.raises(NotFoundError):
        store.delete_document(coll, "d")
    # after deletion the same content can be added again
    again, _ = store.add_documents(coll, [doc("drop me", external_id="d")])
    assert again[0]["status"] == "created"


def test_list_documents_pages(store, coll) -> None:
    store.add_documents(coll, [doc(f"text {n}", external_id=f"d{n}") for n in range(5)])
    assert [d["id"] for d in store.list_documents(coll, limit=2, offset=1)] == ["d1", "d2"]
    assert all("text" not in d for d in store.list_documents(coll))


def test_mark_indexed(store, coll) -> None:
    store.add_documents(coll, [doc("a b c", external_id="x")])
    chunk_ids = store.ops_after(coll, 0)[0][2]
    store.mark_indexed(coll, chunk_ids)
    assert store.get_document(coll, "x")["status"] == "indexed"


def test_pending_documents_counts_unindexed_per_collection(store, coll) -> None:
    other = store.create_collection("other", embedder="e", dim=3)
    store.add_documents(coll, [doc("a b c", external_id="x"), doc("d e f", external_id="y")])
    store.add_documents(other, [doc("elsewhere")])
    assert store.pending_documents(coll) == 2
    store.mark_indexed(coll, store.ops_after(coll, 0)[0][2][:1])
    assert store.pending_documents(coll) == 1 and store.pending_documents(other) == 1


def test_collection_wide_reads(store, coll) -> None:
    other = store.create_collection("other", embedder="e", dim=3)
    store.add_documents(coll, [doc("aaaa bbbb", title="A", external_id="a", spans=[(0, 4), (5, 9)]),
                               doc("cccc", title="C", external_id="c")])
    store.add_documents(other, [doc("elsewhere", external_id="o")])
    ids = store.chunk_ids(coll)
    assert ids == sorted(ids) and store.chunk_count(coll) == 3 and store.chunk_count(other) == 1
    assert store.chunk_document_ids(coll) == dict(zip(ids, ["a", "a", "c"], strict=True))
    texts = store.document_texts(coll)
    assert [(d.id, d.title, d.text) for d in texts] == [("a", "A", "aaaa bbbb"), ("c", "C", "cccc")]


def test_ops_after_filters_by_seq_and_collection(store, coll) -> None:
    other = store.create_collection("other", embedder="e", dim=3)
    _, s1 = store.add_documents(coll, [doc("one")])
    store.add_documents(other, [doc("elsewhere")])
    _, s2 = store.add_documents(coll, [doc("two")])
    assert [s for s, _, _ in store.ops_after(coll, 0)] == [s1, s2]
    assert [s for s, _, _ in store.ops_after(coll, s1)] == [s2]
    assert store.ops_after(coll, s2) == []


def test_failed_transaction_stores_nothing(store, coll) -> None:
    bad = NewDocument(text="x", title="t", source="s", metadata={"a": object()},
                      content_hash="h", spans=[(0, 1)])
    with pytest.raises(TypeError):
        store.add_documents(coll, [doc("good one"), bad])
    assert store.list_documents(coll) == [] and store.ops_after(coll, 0) == []


# -- jobs ---------------------------------------------------------------------
def test_jobs(store, coll) -> None:
    job_id = store.create_job(coll, kind="index", total=4)
    job = store.get_job(job_id)
    assert (job["status"], job["done"], job["total"], job["error"], job["collection"]) == (
        "queued", 0, 4, None, "docs")
    assert [j["id"] for j in store.unfinished_jobs()] == [job_id]
    store.update_job(job_id, status="running", done=2)
    assert store.get_job(job_id)["done"] == 2
    assert [j["id"] for j in store.unfinished_jobs()] == [job_id]
    store.update_job(job_id, status="failed", error="boom")
    assert store.get_job(job_id)["error"] == "boom"
    assert store.unfinished_jobs() == []
    with pytest.raises(ValueError, match="kind"):
        store.update_job(job_id, kind="other")
    with pytest.raises(ValueError):
        store.update_job(job_id)
    with pytest.raises(NotFoundError, match="nope"):
        store.get_job("nope")
