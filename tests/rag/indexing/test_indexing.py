"""Index generations kept in step with SQLite: restart, rebuild and ops replay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.indexing.generations import current_generation, read_manifest
from tests.rag.service.test_service import QUERIES, corpus_records, ingest, make_service

pytestmark = pytest.mark.integration

RETRIEVERS = ("bm25", "dense", "hybrid")
SNAPSHOT_QUERIES = list(QUERIES)[:2] + ["Who made the first ascent of the highest mountain?"]


def snapshot(service, collection) -> dict:
    """Every retriever's ranked (document, chunk, score) for every query."""
    out = {}
    for retriever in RETRIEVERS:
        for query in SNAPSHOT_QUERIES:
            passages = service.retrieve(collection, query, retriever=retriever, top_k=5).passages
            out[retriever, query] = [(p.document_id, p.chunk_id, round(p.score, 4))
                                     for p in passages]
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):
    """Corpus minus its last 4 records as generation 1, then the last 4 as generation 2.

    Returns the data dir, a copy of generation 1's folder, and the results at the end.
    """
    data_dir = tmp_path_factory.mktemp("indexing")
    records = corpus_records()
    service = make_service(data_dir, embedder)
    kb, _, _ = ingest(service, "kb", records[:-4])
    gen1 = tmp_path_factory.mktemp("gen1-copy") / "gen"
    shutil.copytree(current_generation(service.indexes.folder("kb")), gen1)
    ingest(service, "kb", records[-4:])
    expected = snapshot(service, kb)
    service.close()
    return data_dir, gen1, expected


@pytest.fixture
def data_dir(built, tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(built[0], target)
    return target


def restart(data_dir, embedder):
    service = make_service(data_dir, embedder)
    return service, service.collection("kb")


def test_generation_on_disk(data_dir, embedder) -> None:
    service, kb = restart(data_dir, embedder)
    folder = current_generation(service.indexes.folder("kb"))
    assert folder is not None and (folder.parent / "CURRENT").read_text() == folder.name
    manifest = read_manifest(folder)
    assert manifest["embedder"] == "all-MiniLM-L6-v2" and manifest["dim"] == 384
    assert manifest["collection_id"] == kb.id
    assert manifest["applied_seq"] == service.store.last_op_seq(kb)
    assert {"dense.faiss", "dense.json", "bm25.json"} <= set(manifest["files"])
    # only the live generation is kept
    assert [p.name for p in folder.parent.iterdir() if p.is_dir()] == [folder.name]


def test_restart_keeps_everything(built, data_dir, embedder) -> None:
    service, kb = restart(data_dir, embedder)
    live = service.indexes.get(kb)
    # loaded from the generation, not rebuilt: nothing left to replay
    assert live.applied_seq == service.store.last_op_seq(kb)
    assert live.dense.count() == live.bm25.count() == len(corpus_records())
    assert len(service.store.list_documents(kb)) == len(corpus_records())
    assert snapshot(service, kb) == built[2]


@pytest.mark.parametrize("victim", ["dense.faiss", "bm25_terms.npy", "manifest.json"])
def test_lost_index_file_is_rebuilt_from_sqlite(built, data_dir, embedder, victim) -> None:
    service, kb = restart(data_dir, embedder)
    (current_generation(service.indexes.folder("kb")) / victim).unlink()
    service.close()
    service, kb = restart(data_dir, embedder)
    assert snapshot(service, kb) == built[2]
    live = service.indexes.get(kb)
    assert live.dense.count() == live.bm25.count() == len(corpus_records())


def test_corrupt_index_file_is_rebuilt_from_sqlite(built, data_dir, embedder) -> None:
    service, kb = restart(data_dir, embedder)
    faiss_file = current_generation(service.indexes.folder("kb")) / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:-100])
    service.close()
    service, kb = restart(data_dir, embedder)
    assert snapshot(service, kb) == built[2]


def test_older_generation_is_brought_up_to_date_by_replaying_ops(built, data_dir,
                                                                 embedder) -> None:
    """As after a crash between the SQLite commit and the index write: CURRENT names a
    generation older than the ops log."""
    root = data_dir / "collections" / "kb"
    for path in root.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.copytree(built[1], root / built[1].name)
    (root / "CURRENT").write_text(built[1].name)
    service, kb = restart(data_dir, embedder)
    assert read_manifest(root / built[1].name)["applied_seq"] < service.store.last_op_seq(kb)
    assert snapshot(service, kb) == built[2]
    for retriever in RETRIEVERS:  # a document only the replayed ops hold
        passages = service.retrieve(kb, "board game with 64 squares", retriever=retriever).passages
        assert passages and passages[0].document_id == "chess", retriever


def test_delete_then_crash_before_the_index_job(built, data_dir, embedder) -> None:
    """The delete is committed to SQLite but its index job never ran."""
    service, kb = restart(data_dir, embedder)
    service.delete_document(kb, "curie")
    service.close()
    service, kb = restart(data_dir, embedder)
    for (_, _), hits in snapshot(service, kb).items():
        assert "curie" not in {d for d, _, _ in hits}


def test_sync_writes_a_new_generation_per_change(data_dir, embedder) -> None:
    service, kb = restart(data_dir, embedder)
    before = current_generation(service.indexes.folder("kb"))
    job = service.delete_document(kb, "coffee")
    service.run_job(job)
    after = current_generation(service.indexes.folder("kb"))
    assert after != before and not before.exists()
    assert read_manifest(after)["applied_seq"] == service.store.last_op_seq(kb)
    meta = json.loads((after / "dense.json").read_text())
    assert meta["count"] == len(corpus_records()) - 1
    # a sync with nothing to do writes nothing
    assert service.indexes.sync(kb) == 0
    assert current_generation(service.indexes.folder("kb")) == after
