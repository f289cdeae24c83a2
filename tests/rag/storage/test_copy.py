"""`ragmem store copy`: SQLite -> a real PostgreSQL -> SQLite again, every table equal, ids
kept and continued, count checks that fail loudly, a non-empty destination refused."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from indexes.kg.openie import OpenIEResult
from memory.rows import BlockRow, RepRow, Session
from rag.errors import ConflictError, StorageError
from rag.service import keys
from rag.storage.copy import COPY_TABLES, copy_store
from rag.storage.memory_rows import StoreBlockRows, StoreSessionRows
from rag.storage.openie_cache import StoreOpenIECache
from rag.storage.store import NewDocument, Store

pytestmark = pytest.mark.integration


def filled(store: Store) -> Store:
    """A store with rows in every table."""
    coll = store.create_collection("docs", embedder="e", dim=3)
    for i in range(5):
        text = f"Document number {i}. It has two chunks."
        store.add_documents(coll, [NewDocument(
            text=text, title=f"T{i}", source="s.txt", metadata={"i": i, "ü": "ß"},
            content_hash=hashlib.sha256(text.encode()).hexdigest(), spans=[(0, 18), (19, len(text))],
            external_id=f"d{i}")])
    store.delete_document(coll, "d1")
    store.mark_indexed(coll, store.chunk_ids(coll)[:2])
    job = store.create_job(coll, kind="index", total=3, payload={"a": 1})
    store.update_job(job, status="done", done=3, result={"ok": True})
    key, _ = keys.create_key(store, "alice")
    keys.set_session_owner(store, "s1", key.id)
    StoreOpenIECache(store).put_many([("h1", OpenIEResult.build(["a"], [["a", "r", "b"]], source="spacy"))])
    blocks = StoreBlockRows(store)
    mem = blocks.create_memory("m", kind="doc", encoder="e", dim=3, block_tokens=8, reps=1)
    blocks.add_blocks(mem.id, [BlockRow(0, "src", 0, 5, 2, "hello")],
                      [RepRow(0, 0, 0, 5, np.array([0.5, -1.0, 2.0], np.float32))])
    sessions = StoreSessionRows(store)
    sessions.insert_session(Session("s1", "chat", 1.5, "docs", {"u": 1}))
    sessions.append_message("s1", "user", "hi", 2.0)
    sessions.set_core("s1", "name", "Ada", 3.0)
    sessions.insert_archival("s1", "a passage", 4.0)
    return store


def dump(store: Store) -> dict[str, list[dict]]:
    """Every table's rows as dicts, in key order (bytes kept, floats exact)."""
    return {t: [dict(r) for r in store.query(f"SELECT * FROM {t} ORDER BY {', '.join(k)}")]
            for t, k in COPY_TABLES.items()}


def test_copy_covers_every_table_of_the_schema(tmp_path) -> None:
    store = Store(tmp_path / "x.sqlite3").connect()
    tables = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'"
                                        " AND name NOT LIKE 'sqlite_%'")}
    assert tables == set(COPY_TABLES)  # a new table needs its line in rag/storage/copy.py


def test_sqlite_to_postgres_and_back_keeps_every_row(tmp_path, pg_url) -> None:
    src_path = tmp_path / "ragmem.sqlite3"
    original = dump(filled(Store(src_path).connect()))
    assert all(original.values()), {t: len(r) for t, r in original.items()}
    runner = CliRunner()
    result = runner.invoke(app, ["store", "copy", "--from", f"sqlite://{src_path}", "--to", pg_url,
                                 "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)["tables"]
    assert counts == {t: len(rows) for t, rows in original.items()}
    pg = Store(pg_url).connect()
    assert dump(pg) == original
    # the identity counters continue after the copied ids
    coll = pg.create_collection("new", embedder="e", dim=3)
    assert coll.id > max(r["id"] for r in original["collections"])
    _, seq = pg.add_documents(coll, [NewDocument("new text", "N", "s", {}, "h-new", [(0, 8)])])
    assert seq > max(r["seq"] for r in original["ops"])
    assert min(pg.chunk_ids(coll)) > max(r["id"] for r in original["chunks"])
    pg.delete_collection("new")
    back = Store(tmp_path / "back.sqlite3").connect()
    copy_store(pg, back)
    assert dump(back) == original


def test_a_non_empty_destination_is_refused(tmp_path, pg_url) -> None:
    src = filled(Store(tmp_path / "a.sqlite3").connect())
    dst = Store(pg_url).connect()
    dst.create_collection("already", embedder="e", dim=3)
    with pytest.raises(ConflictError, match="not empty"):
        copy_store(src, dst)
    result = CliRunner().invoke(app, ["store", "copy", "--from", str(tmp_path / "a.sqlite3"),
                                      "--to", pg_url])
    assert result.exit_code == 2 and "not empty" in result.output


def test_a_count_mismatch_fails_loudly_and_commits_nothing(tmp_path, pg_url) -> None:
    src = filled(Store(tmp_path / "a.sqlite3").connect())
    dst = Store(pg_url).connect()

    def writer_during_the_copy(table: str, done: int, total: int) -> None:
        if table == "ops" and done == 0:  # a server still writing to the source
            keys.create_key(src, "late")

    with pytest.raises(StorageError, match="api_keys has 1 rows in the source but 2"):
        copy_store(src, dst, progress=writer_during_the_copy)
    assert dst.list_collections() == []


def test_store_bench_measures_both_stores_side_by_side(tmp_path, pg_url) -> None:
    result = CliRunner().invoke(app, ["store", "bench", "--url", str(tmp_path / "b.sqlite3"), "--url",
                                      pg_url, "--docs", "20", "--batch", "5", "--lookups", "10",
                                      "--rounds", "1", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["stores"]
    assert [r["store"] for r in rows] == ["sqlite", "postgresql"]
    assert all(r["add_p50_ms"] > 0 and r["get_chunks_p50_ms"] > 0 for r in rows)
    assert rows[1]["add_ratio"] > 0 and "add_ratio" not in rows[0]
    assert Store(pg_url).connect().list_collections() == []  # its scratch collections are gone
