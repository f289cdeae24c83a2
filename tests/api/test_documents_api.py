"""Upload (multipart and JSON) -> 202 + job -> poll -> retrieve/ask; list, get, delete."""

from __future__ import annotations

import pytest

from tests.api.conftest import upload_json, wait_for_job
from tests.rag.service.test_service import corpus_records

pytestmark = pytest.mark.integration

DOC_KEYS = {"id", "title", "source", "content_hash", "metadata", "created", "chars", "chunks",
            "status", "text"}


def test_multipart_upload_of_several_files(client, collection) -> None:
    files = [
        ("files", ("otters.txt", b"Sea otters hold hands while they sleep so they do not "
                                  b"drift apart.", "text/plain")),
        ("files", ("owls.md", b"# Owls\n\nOwls can turn their heads about 270 degrees.",
                   "text/markdown")),
        ("files", ("page.html", b"<html><head><title>Tides</title></head><body><p>The Moon's "
                                b"gravity causes the ocean tides.</p></body></html>", "text/html")),
    ]
    response = client.post(f"/v1/collections/{collection}/documents", files=files)
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"job_id", "documents"}
    assert [d["status"] for d in body["documents"]] == ["created"] * 3
    # 202 means committed to SQLite: the documents are listed at once
    listed = client.get(f"/v1/collections/{collection}/documents").json()["documents"]
    assert {d["title"] for d in listed} == {"otters", "Owls", "Tides"}

    job = wait_for_job(client, body["job_id"])
    assert job["status"] == "done" and job["error"] is None
    assert job["progress"]["done"] == job["progress"]["total"] >= 3
    assert job["collection"] == collection and job["kind"] == "index"

    hits = client.post(f"/v1/collections/{collection}/retrieve",
                       json={"query": "how far can an owl turn its head", "top_k": 2}).json()
    assert hits["results"][0]["title"] == "Owls"
    listed = client.get(f"/v1/collections/{collection}/documents").json()["documents"]
    assert {d["status"] for d in listed} == {"indexed"}


def test_json_upload_then_retrieve_and_ask(client, collection) -> None:
    body = upload_json(client, collection, corpus_records())
    assert {d["id"] for d in body["documents"]} == {r["id"] for r in corpus_records()}

    response = client.post(f"/v1/collections/{collection}/retrieve",
                           json={"query": "When was the Eiffel Tower completed?",
                                 "retriever": "hybrid", "top_k": 3})
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"results", "retrieval"} and len(data["results"]) == 3
    top = data["results"][0]
    assert {"chunk_id", "document_id", "title", "text", "score"} <= set(top)
    assert top["document_id"] == "eiffel" and top["title"] == "Eiffel Tower"

    response = client.post(f"/v1/collections/{collection}/ask",
                           json={"question": "Who created the Python programming language?",
                                 "retriever": "hybrid", "top_k": 3})
    assert response.status_code == 200
    answer = response.json()
    # A short answer ("Guido van Rossum [1]") keeps its sentences as evidence (issue 17).
    assert set(answer) == {"answer", "citations", "abstained", "generator", "retrieval",
                           "supporting_text"}
    assert answer["abstained"] is False and answer["generator"] == "extractive"
    assert answer["answer"] == "Guido van Rossum [1]"
    assert "Guido van Rossum" in answer["supporting_text"] and "[1]" in answer["supporting_text"]
    for citation in answer["citations"]:
        assert set(citation) == {"chunk_id", "document_id", "title", "text", "start", "end",
                                 "score"}
        doc = client.get(f"/v1/collections/{collection}/documents/{citation['document_id']}",
                         params={"text": "true"}).json()
        assert doc["text"][citation["start"]:citation["end"]] == citation["text"]
    assert answer["citations"][0]["document_id"] == "python"


@pytest.mark.parametrize("retriever", ["bm25", "dense"])
def test_each_retriever_over_http(client, collection, retriever) -> None:
    upload_json(client, collection, corpus_records()[:6])
    data = client.post(f"/v1/collections/{collection}/retrieve",
                       json={"query": "Mount Vesuvius buried Pompeii", "retriever": retriever}
                       ).json()
    assert data["results"][0]["document_id"] == "volcano"
    assert data["retrieval"]["retriever"] == retriever


def test_get_list_and_delete_documents(client, collection) -> None:
    upload_json(client, collection, [
        {"id": "a", "title": "Alpha", "text": "Alpacas are domesticated camelids from the Andes.",
         "metadata": {"lang": "en"}},
        {"id": "b", "text": "Badgers dig large burrows called setts."},
    ])
    doc = client.get(f"/v1/collections/{collection}/documents/a")
    assert doc.status_code == 200
    record = doc.json()
    assert set(record) == DOC_KEYS and record["text"] is None
    assert record["title"] == "Alpha" and record["metadata"] == {"lang": "en"}
    assert record["status"] == "indexed" and record["chunks"] == 1
    with_text = client.get(f"/v1/collections/{collection}/documents/a?text=true").json()
    assert with_text["text"].startswith("Alpacas")
    page = client.get(f"/v1/collections/{collection}/documents?limit=1&offset=1").json()
    assert [d["id"] for d in page["documents"]] == ["b"]

    assert client.delete(f"/v1/collections/{collection}/documents/a").status_code == 204
    assert client.get(f"/v1/collections/{collection}/documents/a").status_code == 404
    assert client.delete(f"/v1/collections/{collection}/documents/a").status_code == 404
    for retriever in ("bm25", "dense", "hybrid"):
        data = client.post(f"/v1/collections/{collection}/retrieve",
                           json={"query": "alpacas camelids Andes", "retriever": retriever}).json()
        assert "a" not in {r["document_id"] for r in data["results"]}


def test_duplicate_and_updated_documents(client, collection) -> None:
    first = upload_json(client, collection, [{"id": "d", "text": "Original words here."}])
    assert first["documents"] == [{"id": "d", "status": "created"}]
    again = upload_json(client, collection, [{"id": "d", "text": "Original words here."}])
    assert again == {"job_id": None, "documents": [{"id": "d", "status": "duplicate"}]}
    updated = upload_json(client, collection, [{"id": "d", "text": "Replacement walrus text."}])
    assert updated["documents"] == [{"id": "d", "status": "updated"}]
    data = client.post(f"/v1/collections/{collection}/retrieve",
                       json={"query": "walrus", "retriever": "bm25"}).json()
    assert [r["document_id"] for r in data["results"]] == ["d"]
    data = client.post(f"/v1/collections/{collection}/retrieve",
                       json={"query": "original words", "retriever": "bm25"}).json()
    assert data["results"] == []


def test_integer_ids_become_strings(client, collection) -> None:
    body = upload_json(client, collection, [{"id": 42, "text": "The answer is forty-two."}])
    assert body["documents"] == [{"id": "42", "status": "created"}]
    assert client.get(f"/v1/collections/{collection}/documents/42").status_code == 200


def test_unknown_job_is_404(client) -> None:
    response = client.get("/v1/jobs/does-not-exist")
    assert response.status_code == 404 and "not found" in response.json()["detail"]
