"""A full disk during ingestion: the job fails cleanly and earlier data stays intact.

The full disk is RLIMIT_FSIZE on the server process (SIGXFSZ ignored, so a write past
the limit fails with EFBIG, as ENOSPC would): room for SQLite's share of an upload,
not for the index segment it needs, nor for an upload too big for SQLite itself.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from rag.indexing.manifest import read_manifest, verify
from tests.reliability.server import ServerProcess, integrity, list_documents, wait_for_jobs

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VECTOR_BYTES = 384 * 4  # one MiniLM vector in a segment's vectors.npy
HEADROOM = 1536 * 1024  # for SQLite's WAL during the limited run


def largest_file(root: Path) -> int:
    return max(p.stat().st_size for p in root.rglob("*") if p.is_file())


def retrieve_top(http: httpx.Client, query: str) -> str | None:
    response = http.post("/v1/collections/kb/retrieve",
                         json={"query": query, "retriever": "bm25", "top_k": 1})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    return results[0]["document_id"] if results else None


def upload(http: httpx.Client, documents: list[dict]) -> httpx.Response:
    return http.post("/v1/collections/kb/documents", json={"documents": documents})


def test_full_disk_fails_the_job_and_keeps_earlier_data(tmp_path, forks) -> None:
    data_dir = tmp_path / "data"
    earlier = [{"id": f"early-{i}", "text": f"Earlier record earlytok{i} about the harbor."}
               for i in range(5)]

    server = ServerProcess(data_dir, tmp_path / "1.log", forks=forks).start()
    with httpx.Client(base_url=server.url, timeout=120) as http:
        assert http.post("/v1/collections", json={"name": "kb"}).status_code == 201
        job = upload(http, earlier).json()["job_id"]
        assert wait_for_jobs(http, [job])[job]["status"] == "done"
    server.stop()
    with sqlite3.connect(data_dir / "ragmem.sqlite3") as conn:  # WAL folded in: it starts empty
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = data_dir / "collections" / "kb"
    before = read_manifest(root)
    limit = largest_file(data_dir) + HEADROOM
    count = limit // VECTOR_BYTES + 200  # their vectors alone are past the limit
    bulk = [{"id": f"bulk-{i}", "text": f"Bulk record bulktok{i}."} for i in range(count)]

    server = ServerProcess(data_dir, tmp_path / "2.log", forks=forks, fsize=limit).start()
    with httpx.Client(base_url=server.url, timeout=300) as http:
        response = upload(http, bulk)  # SQLite has room: committed, acknowledged
        assert response.status_code == 202, response.text
        job = wait_for_jobs(http, [response.json()["job_id"]], timeout=600)
        failed = next(iter(job.values()))
        assert failed["status"] == "failed" and "File too large" in failed["error"], failed
        print(f"\nlimit {limit} bytes, {count} documents: job failed with {failed['error']!r}")
        assert http.get("/healthz").json()["status"] == "ok"
        assert retrieve_top(http, "earlytok3") == "early-3"
        statuses = {d["id"]: d["status"] for d in list_documents(http, "kb").values()}
        assert {statuses[d["id"]] for d in earlier} == {"indexed"}
        assert {statuses[d["id"]] for d in bulk} == {"pending"}  # stored, not in a saved index

        huge = [{"id": f"huge-{i}", "text": "A sentence that fills the disk. " * 40_000}
                for i in range(2)]
        response = upload(http, huge)  # too big for SQLite itself: nothing committed
        assert response.status_code == 507, response.text
        print(f"upload too big for SQLite: 507 {response.json()['detail']!r}")
        assert "disk is full" in response.json()["detail"] or "cannot be written" in response.text
        assert http.get("/healthz").json()["status"] == "ok"
        assert not {"huge-0", "huge-1"} & set(list_documents(http, "kb"))
        assert retrieve_top(http, "earlytok1") == "early-1"
    server.kill()
    assert read_manifest(root) == before
    assert verify(root) == []  # the old segments are whole (checksums)
    assert integrity(data_dir / "ragmem.sqlite3") == "ok"

    server = ServerProcess(data_dir, tmp_path / "3.log", forks=forks).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            stored = list_documents(http, "kb")
            assert set(stored) == {d["id"] for d in earlier + bulk}
            assert {d["status"] for d in stored.values()} == {"indexed"}  # replayed at start
            for i in (0, 4):
                assert retrieve_top(http, f"earlytok{i}") == f"early-{i}"
            for i in (0, count // 2, count - 1):
                assert retrieve_top(http, f"bulktok{i}") == f"bulk-{i}"
    finally:
        server.stop()
    assert read_manifest(root)["applied_seq"] > before["applied_seq"]
    assert [p.name for p in root.iterdir() if p.name.startswith(".tmp-")] == []
    assert verify(root) == []
    assert integrity(data_dir / "ragmem.sqlite3") == "ok"
