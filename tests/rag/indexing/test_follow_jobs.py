"""Jobs between replicas (issue 14): claims move a job to `running` for one worker only;
only a collection's indexer claims its index jobs (running ones of a dead indexer too);
any replica runs other jobs; a write accepted by a follower is indexed by the indexer
and searchable on the follower without a restart.

Two RagServices in one process over one data dir (SQLite here, so both share its
database; `replicated` set as a PostgreSQL store sets it), the election a switch.
"""

from __future__ import annotations

import threading
import time

import pytest

from rag.indexing.manifest import read_manifest
from rag.service.core import RagService
from rag.service.jobs import JobWorker
from rag.settings import Settings
from rag.storage.store import Store
from tests.rag.indexing.test_follow import Switch
from tests.rag.service.test_service import corpus_records

pytestmark = pytest.mark.integration


def replica(data_dir, embedder, lease: Switch) -> RagService:
    service = RagService(Settings(data_dir=data_dir, index={"background_merges": False}),
                         embedder=embedder)
    service.replicated = True  # what a PostgreSQL store makes it: no data-dir flock
    service.indexes.roles.lease, service.indexes.roles.interval = lease, 0.0
    service.indexes.follower.interval = 0.0
    return service.open()


def wait(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.unit
def test_claims_give_each_job_to_one_worker(tmp_path) -> None:
    store = Store(tmp_path / "db.sqlite3").connect()
    kb = store.create_collection("kb", embedder="e", dim=3)
    other = store.create_collection("other", embedder="e", dim=3)
    ids = [store.create_job(kb, kind="index", total=0) for _ in range(40)]
    claimed: list[str] = []

    def claim() -> None:
        while got := store.claim_jobs(kind="index", collection_id=kb.id):
            claimed.extend(got)
        store.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # each once
    assert {store.get_job(i)["status"] for i in ids} == {"running"}
    bench = store.create_job(None, kind="benchmark", total=0)
    theirs = store.create_job(other, kind="index", total=0)
    assert store.claim_jobs(kind="index", collection_id=kb.id) == []
    assert store.claim_jobs(not_kind="index") == [bench]
    assert store.claim_jobs(job_id=theirs, kind="benchmark") == []
    assert store.claim_jobs(kind="index", collection_id=kb.id, statuses=("running",),
                            limit=100) == ids  # a dead indexer's, oldest first
    with pytest.raises(ValueError, match="queued/running"):
        store.claim_jobs(statuses=("done",))


@pytest.fixture
def replicas(tmp_path, embedder):
    lease_a, lease_b = Switch(True), Switch(False)
    a = replica(tmp_path / "data", embedder, lease_a)
    b = replica(tmp_path / "data", embedder, lease_b)
    ran: list[tuple[str, str]] = []
    workers = []
    for name, service in (("a", a), ("b", b)):
        worker = JobWorker(service, {"benchmark": lambda job_id, n=name: ran.append((n, job_id))},
                           tick=0.05)
        worker.start()
        workers.append(worker)
    yield a, b, lease_a, lease_b, workers, ran
    for worker in workers:
        worker.stop()
    a.close()
    b.close()


def test_a_write_on_the_follower_is_indexed_by_the_indexer_and_found_on_both(replicas) -> None:
    a, b, lease_a, lease_b, (worker_a, worker_b), _ = replicas
    records = corpus_records()
    kb = b.collection("kb", create=True)
    job, _ = b.add_documents(kb, b.parse_records(records[:4]))
    worker_b.submit(job)  # B's worker leaves it: A indexes the collection
    wait(lambda: b.store.get_job(job)["status"] == "done")
    query, doc = records[2]["text"][:120], records[2]["id"]
    assert a.indexes.get(kb).applied_seq == a.store.last_op_seq(kb)
    wait(lambda: doc in [p.document_id for p in b.retrieve(kb, query, retriever="bm25").passages])

    # A loses the collection, B takes it: now B indexes what A accepts
    lease_a.on, lease_b.on = False, True
    job, _ = a.add_documents(kb, a.parse_records(records[4:6]))
    wait(lambda: a.store.get_job(job)["status"] == "done")
    assert b.indexes.indexes_here(kb) and not a.indexes.indexes_here(kb)
    # B took over from what A wrote (a full load), adding a segment, not rewriting A's
    manifest = read_manifest(b.indexes.folder("kb"))
    assert [s["name"] for s in manifest["segments"]] == ["seg-000001", "seg-000002"]
    query, doc = records[5]["text"][:120], records[5]["id"]
    wait(lambda: doc in [p.document_id for p in a.retrieve(kb, query, retriever="bm25").passages])


def test_the_new_indexer_finishes_the_jobs_a_dead_one_was_running(replicas) -> None:
    a, b, lease_a, lease_b, _, _ = replicas
    lease_a.on = False  # A "died" mid-job: its job stays running
    kb = b.collection("kb", create=True)
    job = b.store.create_job(kb, kind="index", total=0)
    b.store.update_job(job, status="running")
    time.sleep(0.3)
    assert b.store.get_job(job)["status"] == "running"  # nobody indexes kb
    lease_b.on = True
    wait(lambda: b.store.get_job(job)["status"] == "done")


def test_other_jobs_run_on_one_replica_each(replicas) -> None:
    a, *_, ran = replicas
    jobs = [a.store.create_job(None, kind="benchmark", total=0) for _ in range(20)]
    wait(lambda: len(ran) >= 20)
    time.sleep(0.3)
    assert sorted(j for _, j in ran) == sorted(jobs)
