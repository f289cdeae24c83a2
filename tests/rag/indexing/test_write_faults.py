"""Write faults inside the service: a full SQLite, a failed index write, lost flags."""

from __future__ import annotations

import errno

import pytest

import rag.indexing.manifest
from rag.errors import StorageError
from rag.indexing.manifest import read_manifest, verify
from tests.rag.service.test_service import corpus_records, ingest, make_service, top_documents

pytestmark = pytest.mark.integration


def test_full_database_is_a_storage_error_and_nothing_is_committed(tmp_path, embedder) -> None:
    service = make_service(tmp_path, embedder)
    try:
        collection, _, _ = ingest(service, "kb", corpus_records()[:2])
        conn = service.store._conn()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite answers SQLITE_FULL past it
        big = [{"id": f"big-{i}", "text": f"record {i} " + "filler words " * 400} for i in range(50)]
        with pytest.raises(StorageError, match="disk is full"):
            service.add_documents(collection, service.parse_records(big))
        assert not conn.in_transaction  # rolled back: the connection stays usable
        conn.execute(f"PRAGMA max_page_count={2**30}")
        assert sorted(d["id"] for d in service.store.list_documents(collection)) == ["curie", "eiffel"]
        job_id, _ = service.add_documents(collection, service.parse_records(big[:1]))
        service.run_job(job_id)
        assert top_documents(service, collection, "record 0 filler", retriever="bm25")[0] == "big-0"
    finally:
        service.close()


def test_failed_index_write_keeps_the_indexes_and_the_next_sync_saves(tmp_path, embedder,
                                                                      monkeypatch) -> None:
    service = make_service(tmp_path, embedder)
    try:
        collection, _, _ = ingest(service, "kb", corpus_records()[:3])
        root = service.indexes.folder("kb")
        before = read_manifest(root)
        job_id, _ = service.add_documents(collection, service.parse_records(corpus_records()[3:5]))

        def full_disk(*args, **kwargs):
            raise OSError(errno.EFBIG, "File too large")

        monkeypatch.setattr(rag.indexing.manifest, "write_manifest", full_disk)
        with pytest.raises(OSError):
            service.run_job(job_id)
        job = service.store.get_job(job_id)
        assert job["status"] == "failed" and "File too large" in job["error"]
        assert read_manifest(root) == before and verify(root) == []  # the old one, intact
        assert sorted(p.name for p in root.iterdir()) == sorted(  # the new segment removed
            ["manifest.json", *(f for s in before["segments"] for f in s["files"])])
        added = {r["id"] for r in corpus_records()[3:5]}
        flags = {d["id"]: d["status"] for d in service.store.list_documents(collection)}
        assert {flags[d] for d in added} == {"pending"}  # not yet in a saved generation
        # searchable in this process all the same
        assert set(top_documents(service, collection, corpus_records()[3]["text"][:80], k=2)) & added

        monkeypatch.undo()
        retry = service.store.create_job(collection, kind="index", total=0)
        service.run_job(retry)  # no new op, but an unsaved state: written now
        live = service.indexes.get(collection)
        assert live.saved_seq == live.applied_seq == service.store.last_op_seq(collection)
        after = read_manifest(root)
        assert after["version"] > before["version"] and after["applied_seq"] == live.applied_seq
        assert len(after["segments"]) == len(before["segments"]) + 1
        assert {d["status"] for d in service.store.list_documents(collection)} == {"indexed"}
    finally:
        service.close()


def test_flags_lost_between_index_write_and_flagging_are_repaired_at_load(tmp_path,
                                                                          embedder) -> None:
    service = make_service(tmp_path, embedder)
    ingest(service, "kb", corpus_records()[:2])
    ingest(service, "kb", corpus_records()[2:4])
    with service.store.transaction() as conn:  # as if killed right after the manifest write
        conn.execute("UPDATE documents SET indexed=0 WHERE id IN (?, ?)",
                     [r["id"] for r in corpus_records()[2:4]])
    service.close()

    again = make_service(tmp_path, embedder)
    try:
        kb = again.collection("kb")
        again.indexes.get(kb)
        assert {d["status"] for d in again.store.list_documents(kb)} == {"indexed"}
    finally:
        again.close()
