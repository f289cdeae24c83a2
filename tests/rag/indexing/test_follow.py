"""Follower mode (issue 14): a second index manager over the same index dir that is not
the collection's indexer writes nothing, follows the indexer's manifests without a
reload (open segments stay the same objects), and takes over when it gets the lease."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rag.indexing.follow import Follower, Roles, plan_follow
from rag.indexing.manager import IndexManager
from rag.indexing.manifest import MANIFEST, read_manifest
from rag.ingest.documents import prepare_documents
from tests.rag.service.test_service import corpus_records, ingest, make_service

pytestmark = pytest.mark.integration

NO_MERGES = {"index": {"background_merges": False}}


class Switch:
    """A lease the test hands out and takes back (the election, minus PostgreSQL)."""

    def __init__(self, held: bool) -> None:
        self.on = held
        self.asked = 0

    def try_acquire(self, collection_id: int) -> bool:
        self.asked += 1
        return self.on

    def held(self, collection_id: int) -> bool:
        return self.on

    def release(self, collection_id: int) -> None:
        self.on = False

    def close(self) -> None:
        return None


def follower_of(service, lease: Switch | None = None) -> IndexManager:
    """Replica B: its own manager over A's index dir (and database), never the indexer."""
    manager = IndexManager(service.store, service.embedder, service.indexes.root,
                           service.settings.index, lease=lease or Switch(False),
                           follow_interval=0.0)
    manager.roles.interval = 0.0  # ask the lease at every use (the test flips it)
    return manager


def commit_only(service, records: list[dict]) -> None:
    """Documents committed (a 202) whose index job never ran."""
    chunking = service.settings.chunking
    service.store.add_documents(service.store.get_collection("kb"), prepare_documents(
        service.parse_records(records), size=chunking.size, overlap=chunking.overlap))


def files(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in root.iterdir()}


def bm25_ids(live, query: str) -> set[int]:
    return {h.chunk_id for h in live.bm25.search(query, 50)}


@pytest.fixture
def pair(tmp_path, embedder):
    service = make_service(tmp_path / "data", embedder, **NO_MERGES)
    records = corpus_records()
    kb, _, _ = ingest(service, "kb", records[:6])
    follower = follower_of(service)
    yield service, kb, follower, records
    follower.close()
    service.close()


@pytest.mark.unit
def test_plan_follow_opens_new_retombs_changed_and_drops_retired() -> None:
    current = {"seg-1": None, "seg-2": {"file": "del-2-3.npy"}, "seg-3": None}
    entries = [{"name": "seg-1", "deletes": {"file": "del-1-4.npy"}},
               {"name": "seg-2", "deletes": {"file": "del-2-3.npy"}},
               {"name": "seg-4", "deletes": None}]
    assert plan_follow(current, entries) == (["seg-4"], ["seg-1"], ["seg-3"])
    assert plan_follow({}, []) == ([], [], [])


@pytest.mark.unit
def test_roles_ask_the_lease_at_most_once_per_interval() -> None:
    now = [0.0]
    lease = Switch(False)
    roles = Roles(lease, interval=1.0, clock=lambda: now[0])
    assert roles.indexer(7) == (False, False)
    lease.on = True
    now[0] = 0.5
    assert roles.indexer(7) == (False, False) and lease.asked == 1  # cached
    now[0] = 1.2
    assert roles.indexer(7) == (True, True)  # took over
    now[0] = 2.5
    assert roles.indexer(7) == (True, False)
    lease.on = False
    assert roles.confirm(7) is False  # asked now, before a manifest write


def test_follower_serves_the_indexers_segments_and_writes_nothing(pair) -> None:
    service, kb, follower, records = pair
    root = service.indexes.folder("kb")
    before = files(root)
    live = follower.get(kb)
    assert live.version == read_manifest(root)["version"] and live.applied_seq > 0
    assert live.bm25.count() == service.indexes.get(kb).bm25.count() > 0
    assert follower.sync(kb) == 0  # not the indexer: no ops applied, nothing written
    follower.apply_delete_now(kb, [live.segments.segments[0].ids[0]])  # in memory only
    assert files(root) == before


def test_follower_opens_only_new_segments_and_applies_tombstones(pair) -> None:
    service, kb, follower, records = pair
    live = follower.get(kb)
    first = live.segments.segments[0]
    ingest(service, "kb", records[6:9])  # A: a second segment
    assert follower.get(kb) is live
    assert [s.name for s in live.segments.segments] == [
        e["name"] for e in read_manifest(live.root)["segments"]]
    assert len(live.segments.segments) == 2 and live.segments.segments[0] is first  # kept open
    new_doc = records[7]["id"]
    new_chunks = set(service.store.chunk_document_ids(kb))
    assert {c for c, d in service.store.chunk_document_ids(kb).items() if d == new_doc} & {
        int(i) for i in live.segments.segments[1].ids}
    # A deletes a document of the first segment: B gets its tombstone file, same object
    gone = records[0]["id"]
    gone_chunks = {c for c, d in service.store.chunk_document_ids(kb).items() if d == gone}
    service.delete_document(kb, gone)
    service.indexes.sync(kb)
    follower.get(kb)
    assert live.segments.segments[0] is first and first.deleted == len(gone_chunks)
    assert first.deletes_record == read_manifest(live.root)["segments"][0]["deletes"]
    assert gone_chunks and not gone_chunks & bm25_ids(live, records[0]["text"][:200])
    assert new_chunks


def test_follower_drops_merged_segments(pair) -> None:
    service, kb, follower, records = pair
    ingest(service, "kb", records[6:9])
    live = follower.get(kb)
    assert len(live.segments.segments) == 2
    service.indexes.merge(kb)
    follower.get(kb)
    assert len(live.segments.segments) == 1
    assert live.segments.segments[0].name == read_manifest(live.root)["segments"][0]["name"]
    assert live.bm25.count() == service.indexes.get(kb).bm25.count()


def test_follower_polls_no_more_than_its_interval(pair, monkeypatch) -> None:
    service, kb, _, records = pair
    now = [100.0]
    follower = IndexManager(service.store, service.embedder, service.indexes.root,
                            service.settings.index, lease=Switch(False), follow_interval=0.5)
    follower.follower = Follower(0.5, follower.make_kg, clock=lambda: now[0])
    live = follower.get(kb)
    version = live.version
    ingest(service, "kb", records[6:8])
    now[0] += 0.2
    assert follower.get(kb).version == version  # within the interval: what is open
    now[0] += 0.4
    assert follower.get(kb).version == read_manifest(live.root)["version"] > version
    follower.close()


def test_follower_retries_when_a_named_file_is_gone(pair) -> None:
    service, kb, follower, records = pair
    live = follower.get(kb)
    version = live.version
    root = live.root
    saved = (root / MANIFEST).read_text()
    body = read_manifest(root)
    body["segments"].append({"name": "seg-999999", "rows": 1, "deletes": None,
                             "files": {"seg-999999.seg": [10, "0" * 64]}})
    body["version"] += 1
    tmp = root / "m.json"
    tmp.write_text(json.dumps(body))
    os.replace(tmp, root / MANIFEST)  # a manifest whose file was retired already
    assert follower.follower.refresh(live, force=True) is False
    assert live.version == version and live.bm25.count() > 0  # still serving
    (root / MANIFEST).write_text(saved)
    ingest(service, "kb", records[6:8])
    assert follower.follower.refresh(live, force=True) is True


def test_follower_takes_over_and_replays_the_ops_the_indexer_left(pair) -> None:
    service, kb, _, records = pair
    lease = Switch(False)
    follower = follower_of(service, lease)
    assert follower.get(kb).version == read_manifest(service.indexes.folder("kb"))["version"]
    # ops committed that the indexer never applied (it died after the 202s)
    commit_only(service, records[6:8])
    assert follower.get(kb).applied_seq < service.store.last_op_seq(kb)
    lease.on = True  # the old indexer's lease is gone: B takes the collection
    live = follower.get(kb)
    assert live.applied_seq == service.store.last_op_seq(kb)
    assert read_manifest(live.root)["applied_seq"] == live.applied_seq  # B wrote it
    follower.close()


def test_an_indexer_that_lost_its_lease_writes_no_manifest(pair) -> None:
    service, kb, _, records = pair
    lease = Switch(True)
    manager = follower_of(service, lease)
    manager.get(kb)
    lease.on = False
    before = read_manifest(manager.folder("kb"))["version"]
    commit_only(service, records[6:8])
    assert manager.sync(kb) == 0
    assert read_manifest(manager.folder("kb"))["version"] == before
    manager.close()
