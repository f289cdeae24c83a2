"""A server restart keeps every document and index; queued jobs survive a stop."""

from __future__ import annotations

import httpx
import pytest

from rag.service.core import RagService
from tests.api.conftest import api_settings, start_server, upload_json, wait_for_job
from tests.rag.service.test_service import corpus_records

pytestmark = pytest.mark.integration


def retrieve_ids(http: httpx.Client, name: str, query: str) -> list[str]:
    response = http.post(f"/v1/collections/{name}/retrieve", json={"query": query, "top_k": 10})
    assert response.status_code == 200, response.text
    return [r["document_id"] for r in response.json()["results"]]


def test_restart_keeps_documents_and_indexes(tmp_path, embedder) -> None:
    first = start_server(tmp_path, embedder)
    try:
        with httpx.Client(base_url=first.url, timeout=60) as http:
            assert http.post("/v1/collections", json={"name": "kb"}).status_code == 201
            upload_json(http, "kb", corpus_records()[:8])
            assert http.delete("/v1/collections/kb/documents/eiffel").status_code == 204
            before = retrieve_ids(http, "kb", "Who created the Python programming language?")
    finally:
        first.stop()

    second = start_server(tmp_path, embedder)
    try:
        with httpx.Client(base_url=second.url, timeout=60) as http:
            assert [c["name"] for c in http.get("/v1/collections").json()["collections"]] == ["kb"]
            docs = http.get("/v1/collections/kb/documents").json()["documents"]
            assert sorted(d["id"] for d in docs) == sorted(
                r["id"] for r in corpus_records()[:8] if r["id"] != "eiffel")
            assert retrieve_ids(http, "kb", "Who created the Python programming language?") == before
            assert before[0] == "python"
            assert "eiffel" not in retrieve_ids(http, "kb", "Eiffel Tower Paris 1889")
    finally:
        second.stop()


def test_queued_job_is_run_at_the_next_start(tmp_path, embedder) -> None:
    """Documents committed (202) but not yet indexed when the server stopped."""
    service = RagService(api_settings(tmp_path), embedder=embedder).open()
    collection = service.create_collection("kb")
    job_id, _ = service.add_documents(collection, service.parse_records(corpus_records()[:4]))
    service.close()

    live = start_server(tmp_path, embedder)
    try:
        with httpx.Client(base_url=live.url, timeout=60) as http:
            job = wait_for_job(http, job_id)
            assert job["status"] == "done" and job["error"] is None
            assert retrieve_ids(http, "kb", "Mount Vesuvius Pompeii")[0] == "volcano"
    finally:
        live.stop()
