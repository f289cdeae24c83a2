"""Segments kept in step with SQLite: restart, rebuild, ops replay, one segment per sync,
tombstones, open without hashing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import indexes.segment_files
from rag.indexing.manifest import read_manifest, verify
from tests.rag.service.test_service import QUERIES, corpus_records, ingest, make_service

pytestmark = pytest.mark.integration

RETRIEVERS = ("bm25", "dense", "hybrid")
SNAPSHOT_QUERIES = list(QUERIES)[:2] + ["Who made the first ascent of the highest mountain?"]
NO_MERGES = {"index": {"background_merges": False}}


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
    """Corpus minus its last 4 records in one sync, then the last 4 in another.

    Returns the data dir, a copy of the collection folder after the first sync, and the
    results at the end.
    """
    data_dir = tmp_path_factory.mktemp("indexing")
    records = corpus_records()
    service = make_service(data_dir, embedder, **NO_MERGES)
    kb, _, _ = ingest(service, "kb", records[:-4])
    first = tmp_path_factory.mktemp("first-copy") / "kb"
    shutil.copytree(service.indexes.folder("kb"), first)
    ingest(service, "kb", records[-4:])
    expected = snapshot(service, kb)
    service.close()
    return data_dir, first, expected


@pytest.fixture
def data_dir(built, tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(built[0], target)
    return target


def restart(data_dir, embedder, **settings):
    service = make_service(data_dir, embedder, **(settings or NO_MERGES))
    return service, service.collection("kb")


def segment_files(root: Path, manifest: dict) -> list[Path]:
    return [root / name for s in manifest["segments"] for name in s["files"]]


def test_segments_on_disk(data_dir, embedder) -> None:
    service, kb = restart(data_dir, embedder)
    root = service.indexes.folder("kb")
    manifest = read_manifest(root)
    assert manifest["embedder"] == "all-MiniLM-L6-v2" and manifest["dim"] == 384
    assert manifest["collection_id"] == kb.id
    assert manifest["applied_seq"] == service.store.last_op_seq(kb)
    assert [s["rows"] for s in manifest["segments"]] == [len(corpus_records()) - 4, 4]
    assert [list(s["files"]) for s in manifest["segments"]] == [
        [f"{s['name']}.seg"] for s in manifest["segments"]]
    assert manifest["kg"] is None and not list(root.glob("kg-*"))  # no KG: nothing written
    # only what the manifest names is on disk
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["manifest.json", *(p.name for p in segment_files(root, manifest))])
    assert verify(root) == []


def test_restart_keeps_everything(built, data_dir, embedder) -> None:
    service, kb = restart(data_dir, embedder)
    live = service.indexes.get(kb)
    # loaded from the segments, not rebuilt: nothing left to replay
    assert live.applied_seq == service.store.last_op_seq(kb)
    assert live.dense.count() == live.bm25.count() == len(corpus_records())
    assert snapshot(service, kb) == built[2]


def test_open_checks_sizes_without_hashing(built, data_dir, embedder, monkeypatch) -> None:
    def no_hashing(path):
        raise AssertionError(f"open hashed {path}")

    monkeypatch.setattr(indexes.segment_files, "sha256_file", no_hashing)
    service, kb = restart(data_dir, embedder)
    assert service.indexes.get(kb).applied_seq == service.store.last_op_seq(kb)
    assert snapshot(service, kb) == built[2]


@pytest.mark.parametrize("victim", ["first segment", "last segment", "manifest.json"])
def test_lost_index_file_is_rebuilt_from_sqlite(built, data_dir, embedder, victim) -> None:
    root = data_dir / "collections" / "kb"
    files = segment_files(root, read_manifest(root))
    {"first segment": files[0], "last segment": files[-1],
     "manifest.json": root / "manifest.json"}[victim].unlink()
    service, kb = restart(data_dir, embedder)
    assert snapshot(service, kb) == built[2]
    live = service.indexes.get(kb)
    assert live.dense.count() == live.bm25.count() == len(corpus_records())
    assert verify(root) == []


def test_truncated_index_file_is_rebuilt_from_sqlite(built, data_dir, embedder) -> None:
    root = data_dir / "collections" / "kb"
    path = segment_files(root, read_manifest(root))[0]
    path.write_bytes(path.read_bytes()[:-100])
    service, kb = restart(data_dir, embedder)
    assert snapshot(service, kb) == built[2]


def test_older_manifest_is_brought_up_to_date_by_replaying_ops(built, data_dir,
                                                               embedder) -> None:
    """As after a crash between the SQLite commit and the index write: the manifest on
    disk is older than the ops log."""
    root = data_dir / "collections" / "kb"
    shutil.rmtree(root)
    shutil.copytree(built[1], root)
    service, kb = restart(data_dir, embedder)
    assert read_manifest(built[1])["applied_seq"] < service.store.last_op_seq(kb)
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


def test_a_sync_writes_one_segment_of_what_it_adds_and_deletes_are_tombstones(
        data_dir, embedder) -> None:
    service, kb = restart(data_dir, embedder)
    root = service.indexes.folder("kb")
    before = read_manifest(root)
    old_bytes = {p: p.stat().st_mtime_ns for p in segment_files(root, before)}
    ingest(service, "kb", [{"id": "new", "text": "A zebrafish regrows its fins."}])
    after = read_manifest(root)
    assert after["segments"][:2] == before["segments"]  # untouched, not rewritten
    assert [s["rows"] for s in after["segments"][2:]] == [1]
    assert {p: p.stat().st_mtime_ns for p in segment_files(root, before)} == old_bytes
    new_bytes = sum(size for size, _ in after["segments"][2]["files"].values())
    assert new_bytes < 20_000  # one vector and one chunk's postings

    job = service.delete_document(kb, "coffee")
    service.run_job(job)
    deleted = read_manifest(root)
    assert [s["name"] for s in deleted["segments"]] == [s["name"] for s in after["segments"]]
    record = next(s["deletes"] for s in deleted["segments"] if s["deletes"])
    assert record["count"] >= 1 and (root / record["file"]).exists()
    assert deleted["applied_seq"] == service.store.last_op_seq(kb)
    for retriever in RETRIEVERS:
        passages = service.retrieve(kb, "coffee beans roasted", retriever=retriever, top_k=20).passages
        assert "coffee" not in {p.document_id for p in passages}
    # a sync with nothing to do writes nothing
    assert service.indexes.sync(kb) == 0
    assert read_manifest(root) == deleted
    service.close()
    service, kb = restart(data_dir, embedder)  # tombstones come back from disk
    passages = service.retrieve(kb, "coffee beans roasted", retriever="bm25", top_k=20).passages
    assert "coffee" not in {p.document_id for p in passages}


def test_forced_merge_drops_tombstones_and_keeps_results(built, data_dir, embedder) -> None:
    service, kb = restart(data_dir, embedder)
    job = service.delete_document(kb, "coffee")
    service.run_job(job)
    expected = snapshot(service, kb)
    root = service.indexes.folder("kb")
    old = [s["name"] for s in read_manifest(root)["segments"]]
    report = service.indexes.merge(kb)
    manifest = read_manifest(root)
    assert report["merged"] and len(manifest["segments"]) == 1
    assert manifest["segments"][0]["rows"] == service.indexes.get(kb).dense.count()
    assert manifest["segments"][0]["deletes"] is None
    assert not any((root / name).exists() for name in old)  # removed after the swap
    assert snapshot(service, kb) == expected
    assert verify(root) == []
    service.close()
    service, kb = restart(data_dir, embedder)
    assert snapshot(service, kb) == expected


def test_background_merges_follow_the_policy(data_dir, embedder) -> None:
    settings = {"index": {"merge_factor": 2, "merge_floor_rows": 100}}
    service, kb = restart(data_dir, embedder, **settings)
    expected_before = snapshot(service, kb)
    assert service.indexes.wait_merges(60)
    manifest = read_manifest(service.indexes.folder("kb"))
    # the two tier-0 segments of the fixture merged into one once a sync asked
    ingest(service, "kb", [{"id": "one", "text": "An okapi lives in the rainforest."}])
    assert service.indexes.wait_merges(60)
    manifest = read_manifest(service.indexes.folder("kb"))
    assert len(manifest["segments"]) == 1
    assert manifest["segments"][0]["rows"] == len(corpus_records()) + 1
    passages = service.retrieve(kb, "okapi rainforest", retriever="bm25").passages
    assert passages[0].document_id == "one"
    after = snapshot(service, kb)
    for key, hits in expected_before.items():  # the new document may only add results
        assert [h[0] for h in after[key] if h[0] != "one"][:3] == \
            [h[0] for h in hits if h[0] != "one"][:3]


def test_flags_of_the_last_sync_are_repaired_at_open(data_dir, embedder) -> None:
    """As if killed after the manifest was written, before `mark_indexed`."""
    service, kb = restart(data_dir, embedder)
    ingest(service, "kb", [{"id": "late", "text": "Penguins huddle against the cold."}])
    with service.store.transaction() as conn:
        conn.execute("UPDATE documents SET indexed=0 WHERE id='late'")
    service.close()
    service, kb = restart(data_dir, embedder)
    service.indexes.get(kb)
    assert {d["status"] for d in service.store.list_documents(kb)} == {"indexed"}


def test_a_crashed_merge_leaves_files_that_open_removes(data_dir, embedder) -> None:
    root = data_dir / "collections" / "kb"
    manifest = read_manifest(root)
    stray = root / "seg-000099.seg"
    shutil.copy(segment_files(root, manifest)[0], stray)
    (root / ".tmp-kg-000100").mkdir()
    (root / "crag.json").write_text(json.dumps({}))  # not ours: kept
    service, kb = restart(data_dir, embedder)
    service.indexes.get(kb)
    assert not stray.exists() and not (root / ".tmp-kg-000100").exists()
    assert (root / "crag.json").exists()
    ingest(service, "kb", [{"id": "later", "text": "Lichens grow on bare rock."}])
    assert read_manifest(root)["segments"][-1]["name"] == "seg-000100"  # never reused
