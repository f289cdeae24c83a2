"""Memory's rows in the store (rag/storage/memory_rows.py): the Protocols implemented, the
upgrade of a data dir whose memory tables memory/store.py created itself (schema v4), and
nested transactions (a savepoint joins the outer transaction)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from memory.errors import MemoryFormatError, MemoryNotFoundError
from memory.rows import BlockRow, BlockRows, RepRow, Session, SessionRows
from rag.storage.errors import INTEGRITY_ERRORS
from rag.storage.memory_rows import StoreBlockRows, StoreSessionRows
from rag.storage.migrations import MIGRATIONS, migrate, schema_version
from rag.storage.store import Store

pytestmark = pytest.mark.unit

# The DDL memory/store.py ran on the service's database before schema v5 (verbatim).
OLD_MEMORY_SCHEMA = """
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


@pytest.fixture
def db(store_location) -> Store:
    store = Store(store_location).connect()
    yield store
    store.close()


def test_the_store_rows_are_memory_protocols(db) -> None:
    assert isinstance(StoreBlockRows(db), BlockRows)
    assert isinstance(StoreSessionRows(db), SessionRows)


def test_migration_5_creates_the_memory_tables(tmp_path) -> None:
    db = Store(tmp_path / "ragmem.sqlite3").connect()
    tables = {r[0] for r in db.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"memory_memories", "memory_blocks", "memory_reps", "memory_sessions",
            "memory_session_meta", "memory_messages", "memory_core", "memory_archival"} <= tables
    assert schema_version(db._conn()) == len(MIGRATIONS) >= 5


def test_a_v4_data_dir_with_memory_rows_upgrades_and_keeps_them(tmp_path) -> None:
    path = tmp_path / "ragmem.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for version in range(4):  # the schema as ragmem left it before v5
        conn.execute("BEGIN")
        for statement in MIGRATIONS[version].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={version + 1}")
        conn.execute("COMMIT")
    conn.executescript(OLD_MEMORY_SCHEMA)  # what the old MemoryStore.open() ran
    vec = np.arange(4, dtype="<f4")
    conn.executescript("BEGIN;"
                       "INSERT INTO memory_memories VALUES (1, 'doc', 'document', 'e', 4, 32, 1, 1, 0);"
                       "INSERT INTO memory_blocks VALUES (1, 0, 'doc', 0, 5, 2, 'Hello');"
                       "INSERT INTO memory_sessions VALUES ('s1', 'old', 1.0);"
                       "INSERT INTO memory_session_meta VALUES ('s1', 'docs', '{\"n\": 1}');"
                       "INSERT INTO memory_messages VALUES ('s1', 0, 'user', 'Hi.', 2.0);"
                       "INSERT INTO memory_core VALUES ('s1', 'name', 'Ada', 3.0);"
                       "COMMIT;")
    conn.execute("INSERT INTO memory_reps VALUES (1, 0, 0, 0, 5, ?)", (vec.tobytes(),))
    conn.close()

    store = Store(path).connect()
    try:
        assert schema_version(store._conn()) == len(MIGRATIONS)
        blocks, sessions = StoreBlockRows(store), StoreSessionRows(store)
        info = blocks.get_memory("doc")
        assert blocks.block_spans(info.id) == [(0, "doc", 0, 5, 2)]
        text, vectors = blocks.block_payloads(info.id, [0], 4)[0]
        assert text == "Hello" and np.array_equal(vectors[0], vec)
        assert sessions.get_session("s1") == Session("s1", "old", 1.0, "docs", {"n": 1})
        assert [m.content for m in sessions.messages("s1")] == ["Hi."]
        assert sessions.core("s1") == {"name": "Ada"}
        assert sessions.append_message("s1", "assistant", "Hello.", 4.0).seq == 1  # writable
    finally:
        store.close()
    assert migrate(sqlite3.connect(path)) == len(MIGRATIONS)  # idempotent


def _blocks(n: int, dim: int, reps: int) -> tuple[list[BlockRow], list[RepRow]]:
    rng = np.random.default_rng(0)
    blocks = [BlockRow(b, f"src:{b}", 10 * b, 10 * b + 9, 3, f"block {b}") for b in range(n)]
    vecs = [RepRow(b, j, 10 * b, 10 * b + j, rng.standard_normal(dim).astype(np.float32))
            for b in range(n) for j in range(reps)]
    return blocks, vecs


def test_block_rows_round_trip(db) -> None:
    rows = StoreBlockRows(db)
    info = rows.create_memory("doc:a", kind="document", encoder="e", dim=8, block_tokens=32, reps=3)
    assert rows.create_memory("doc:a", kind="document", encoder="e", dim=8, block_tokens=32,
                              reps=3) == info
    blocks, reps = _blocks(1000, 8, 3)  # more than one IN (...) batch and one rep page
    rows.add_blocks(info.id, blocks, reps)
    assert rows.rep_count(info.id) == 3000
    assert [t for batch in rows.iter_block_texts(info.id, batch=300) for t in batch] == [
        b.text for b in blocks]
    payloads = rows.block_payloads(info.id, list(range(999, -1, -1)), 8)
    assert len(payloads) == 1000 and payloads[5][0] == "block 5"
    assert np.array_equal(payloads[5][1][2], reps[5 * 3 + 2].vector)
    ids, vecs = zip(*rows.iter_reps(info.id, 8, stride=16), strict=True)
    assert np.array_equal(np.concatenate(ids), [b * 16 + j for b in range(1000) for j in range(3)])
    assert np.array_equal(np.concatenate(vecs), np.stack([r.vector for r in reps]))


def test_block_rows_names_delete_and_format(db) -> None:
    rows = StoreBlockRows(db)
    for name in ("document:c:1:aa", "document:c:1:bb", "document:c:10:aa", "document:c_1:aa"):
        rows.create_memory(name, kind="document", encoder="e", dim=4, block_tokens=8, reps=1)
    assert rows.memory_names("document:c:1:") == ["document:c:1:aa", "document:c:1:bb"]
    doomed = rows.get_memory("document:c:1:aa")
    rows.add_blocks(doomed.id, *_blocks(2, 4, 1))
    rows.delete_memory(doomed.id)
    with pytest.raises(MemoryNotFoundError):
        rows.get_memory("document:c:1:aa")
    assert rows.rep_count(doomed.id) == 0 and rows.block_spans(doomed.id) == []
    with db.transaction() as conn:
        conn.execute("UPDATE memory_memories SET format_version = 99 WHERE name = 'document:c:1:bb'")
    with pytest.raises(MemoryFormatError):
        rows.get_memory("document:c:1:bb")


def test_session_rows(db) -> None:
    rows = StoreSessionRows(db)
    rows.insert_session(Session("s", "chat", 1.0, None, {"k": [1]}))
    assert rows.list_sessions() == [Session("s", "chat", 1.0, None, {"k": [1]})]
    assert [rows.append_message("s", "user", f"m{n}", 2.0).seq for n in range(3)] == [0, 1, 2]
    assert [m.content for m in rows.messages("s", since=1, limit=1)] == ["m1"]
    assert [m.seq for m in rows.messages_by_seq("s", [2, 0, 7])] == [0, 2]
    rows.set_core("s", "b", "2", 3.0)
    rows.replace_core("s", {"a": "1", "c": "3"}, 4.0)
    assert rows.core("s") == {"a": "1", "c": "3"}
    assert rows.delete_core("s", "a") and not rows.delete_core("s", "a")
    assert [rows.insert_archival("s", t, 5.0).id for t in ("x", "y")] == [0, 1]
    assert [r.text for r in rows.archival("s")] == ["x", "y"]
    assert rows.counts("s") == {"messages": 3, "core": 1, "archival": 2}
    rows.delete_session("s")
    assert rows.get_session("s") is None
    assert rows.counts("s") == {"messages": 0, "core": 0, "archival": 0}


def test_a_nested_transaction_commits_and_rolls_back_with_the_outer_one(db) -> None:
    rows = StoreSessionRows(db)
    with pytest.raises(RuntimeError), db.transaction():
        rows.insert_session(Session("gone", "", 1.0))
        raise RuntimeError("after the inner write")
    assert rows.get_session("gone") is None  # the outer rollback took the inner write
    with db.transaction():
        rows.insert_session(Session("kept", "", 1.0))
        with pytest.raises(INTEGRITY_ERRORS):
            rows.insert_session(Session("kept", "", 1.0))  # fails alone: its savepoint rolls back
        rows.set_core("kept", "k", "v", 2.0)
    assert rows.get_session("kept") is not None and rows.core("kept") == {"k": "v"}
    if db.backend.name == "sqlite":
        assert not db._conn().in_transaction
    else:  # the transaction's connection went back to the pool, idle
        assert getattr(db.backend._local, "conn", None) is None
        assert db.query("SELECT pg_current_xact_id_if_assigned()")[0][0] is None
