"""What only the PostgreSQL store has: the dialect rewrite, its schema matching SQLite's
column for column, writers of one collection serialized, claims skipping locked rows,
clear errors for a bad URL or an unreachable server. On a real PostgreSQL 15."""

from __future__ import annotations

import hashlib
import socket
import threading

import psycopg
import pytest

from rag.errors import ConflictError, InvalidInputError, StorageError
from rag.storage.backend import open_backend, store_location
from rag.storage.dialect import to_postgres
from rag.storage.pg_migrations import PG_MIGRATIONS
from rag.storage.store import NewDocument, Store


def doc(text: str) -> NewDocument:
    return NewDocument(text=text, title="T", source="s", metadata={},
                       content_hash=hashlib.sha256(text.encode()).hexdigest(),
                       spans=[(0, 4), (4, len(text))])


@pytest.mark.unit
def run_threads(target, n: int) -> None:
    """Run `target(0..n-1)` in n threads at once and wait for them all."""
    threads = [threading.Thread(target=target, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.parametrize(("sql", "expected", "key"), [
    ("SELECT a FROM t WHERE b=? AND c='?%'", "SELECT a FROM t WHERE b=%s AND c='?%%'", None),
    ("INSERT OR IGNORE INTO memory_memories (name) VALUES (?)",
     "INSERT INTO memory_memories (name) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id", "id"),
    ("INSERT OR REPLACE INTO memory_core VALUES (?, ?, ?, ?)",
     "INSERT INTO memory_core VALUES (%s, %s, %s, %s) ON CONFLICT (session_id, key) DO UPDATE SET"
     " value=EXCLUDED.value, updated_at=EXCLUDED.updated_at", None),
    ("INSERT INTO ops(collection_id) VALUES (?)", "INSERT INTO ops(collection_id) VALUES (%s) RETURNING seq",
     "seq"),
])
def test_dialect_rewrites_sqlite_sql(sql, expected, key) -> None:
    assert to_postgres(sql) == (expected, key)


@pytest.mark.unit
def test_dialect_refuses_a_replace_without_a_known_key() -> None:
    with pytest.raises(ValueError, match="REPLACE_KEYS"):
        to_postgres("INSERT OR REPLACE INTO mystery VALUES (?)")


@pytest.mark.unit
def test_store_locations(tmp_path) -> None:
    assert store_location("", tmp_path) == tmp_path / "ragmem.sqlite3"
    assert open_backend(f"sqlite://{tmp_path}/x.sqlite3").path == tmp_path / "x.sqlite3"
    with pytest.raises(InvalidInputError, match="unknown store URL"):
        open_backend("mysql://db/x")


@pytest.mark.unit
def test_a_missing_driver_names_the_extra(monkeypatch) -> None:
    import sys

    monkeypatch.delitem(sys.modules, "rag.storage.pg_backend", raising=False)
    monkeypatch.setitem(sys.modules, "psycopg_pool", None)  # import psycopg_pool fails
    with pytest.raises(InvalidInputError, match=r"pip install -e '\.\[postgres\]'"):
        open_backend("postgresql://u@127.0.0.1/x")


def _columns_pg(url: str) -> dict[str, set[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns"
                            " WHERE table_schema='public' AND table_name <> 'ragmem_schema'").fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def test_postgres_schema_matches_sqlite_column_for_column(pg_url, tmp_path) -> None:
    Store(pg_url).connect().close()
    sqlite = Store(tmp_path / "ragmem.sqlite3").connect()
    tables = [r[0] for r in sqlite.query("SELECT name FROM sqlite_master WHERE type='table'"
                                         " AND name NOT LIKE 'sqlite_%'")]
    expected = {t: {r[1] for r in sqlite.query(f"PRAGMA table_info({t})")} for t in tables}
    assert _columns_pg(pg_url) == expected
    with psycopg.connect(pg_url) as conn:  # the version table: the same numbers as SQLite's
        assert conn.execute("SELECT MAX(version) FROM ragmem_schema").fetchone()[0] == len(PG_MIGRATIONS)
    Store(pg_url).connect().close()  # a second start migrates nothing


def test_concurrent_writers_of_a_collection_commit_in_id_order(pg_url) -> None:
    store = Store(pg_url, pool_size=8).connect()
    coll = store.create_collection("c", embedder="e", dim=3)
    errors: list[BaseException] = []

    def add(n: int) -> None:
        try:
            for i in range(5):
                store.add_documents(coll, [doc(f"writer {n} document {i} text")])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    run_threads(add, 6)
    assert errors == []
    ops = store.ops_after(coll, 0)
    assert len(ops) == 30
    flat = [cid for _, _, ids in ops for cid in ids]
    assert flat == sorted(flat) and len(set(flat)) == 60  # each op's ids above every earlier op's
    by_doc = store.chunk_document_ids(coll)
    assert all(by_doc[ids[0]] == by_doc[ids[1]] for _, _, ids in ops)
    store.close()


def test_concurrent_appends_to_one_session_get_distinct_seqs(pg_url) -> None:
    from memory.rows import Session
    from rag.storage.memory_rows import StoreSessionRows

    store = Store(pg_url, pool_size=8).connect()
    rows = StoreSessionRows(store)
    rows.insert_session(Session("s", "", 1.0))
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            for i in range(5):
                rows.append_message("s", "user", f"{n}-{i}", 2.0)
                rows.insert_archival("s", f"{n}-{i}", 2.0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    run_threads(append, 6)
    assert errors == []  # without the lock: duplicate key (409) from two MAX(seq) + 1 reads
    assert [m.seq for m in rows.messages("s")] == list(range(30))
    assert [r.id for r in rows.archival("s")] == list(range(30))
    store.close()


def test_claims_skip_rows_another_transaction_holds(pg_url) -> None:
    store = Store(pg_url).connect()
    coll = store.create_collection("c", embedder="e", dim=3)
    jobs = [store.create_job(coll, kind="index", total=1) for _ in range(3)]
    other = psycopg.connect(pg_url, autocommit=False)  # another worker, mid-claim, holds the oldest
    other.execute("SELECT id FROM jobs WHERE id=%s FOR UPDATE", (jobs[0],))
    claimed: list[str] = []
    worker = threading.Thread(target=lambda: claimed.extend(store.claim_jobs(limit=3)))
    worker.start()
    worker.join(10)
    other.rollback()
    other.close()
    assert claimed == jobs[1:]  # not blocked, and not the held row
    assert store.claim_jobs(limit=3) == jobs[:1]


def test_a_constraint_is_a_conflict_and_rolls_back(pg_url) -> None:
    store = Store(pg_url).connect()
    store.create_collection("c", embedder="e", dim=3)
    with pytest.raises(ConflictError, match="already exists"):
        store.create_collection("c", embedder="e", dim=3)
    assert [c["name"] for c in store.list_collections()] == ["c"]  # the pool's connection is fine


def test_the_pool_reconnects_after_a_server_restart(pg_url, pg_server) -> None:
    store = Store(pg_url, pool_size=2).connect()
    store.create_collection("before", embedder="e", dim=3)
    pg_server.restart()  # immediate: like a crash, every pooled connection is dead now
    assert [c["name"] for c in store.list_collections()] == ["before"]
    store.create_collection("after", embedder="e", dim=3)
    assert len(store.list_collections()) == 2
    store.close()


@pytest.mark.unit
def test_an_unreachable_server_is_a_storage_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once closed
    store = Store(f"postgresql://nobody:secret@127.0.0.1:{port}/x")
    store.backend.connect_timeout = 2.0
    with pytest.raises(StorageError, match="cannot connect") as info:
        store.connect()
    assert "secret" not in str(info.value)
