"""Bad input gets a clear 4xx, the server stays healthy, and nothing already stored is lost."""

from __future__ import annotations

import pytest

from tests.api.conftest import MAX_UPLOAD_BYTES, unique_name, upload_json
from tests.rag.service.test_service import corpus_records

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def guarded(client) -> str:
    """A collection with documents that every bad request must leave intact."""
    name = unique_name("guarded")
    assert client.post("/v1/collections", json={"name": name}).status_code == 201
    upload_json(client, name, corpus_records()[:5])
    return name


def assert_intact(client, name: str) -> None:
    assert client.get("/healthz").status_code == 200
    docs = client.get(f"/v1/collections/{name}/documents").json()["documents"]
    assert sorted(d["id"] for d in docs) == sorted(r["id"] for r in corpus_records()[:5])
    assert {d["status"] for d in docs} == {"indexed"}
    hits = client.post(f"/v1/collections/{name}/retrieve",
                       json={"query": "first woman to win a Nobel Prize"}).json()
    assert hits["results"][0]["document_id"] == "curie"


def upload_files(client, name: str, *files: tuple[str, bytes]):
    return client.post(f"/v1/collections/{name}/documents",
                       files=[("files", (fname, data, "application/octet-stream"))
                              for fname, data in files])


BAD_FILES = [
    ("empty.txt", b"", 422, "empty"),
    ("whitespace.txt", b"   \n\t ", 422, "empty"),
    ("binary.txt", bytes(range(256)) * 4, 422, "binary"),
    ("latin1.txt", "café au lait, crème brûlée".encode("latin-1"), 422, "utf-8"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage\n%%EOF", 422, "pdf"),
    ("notapdf.pdf", b"this is plain text, not a PDF", 422, "pdf"),
    ("broken.docx", b"PK\x03\x04 not really a zip", 422, "broken.docx"),
    ("program.exe", b"MZ\x90\x00\x03", 415, "unsupported"),
    ("noext", b"some text", 415, "unsupported"),
    ("big.txt", b"a" * (MAX_UPLOAD_BYTES + 1), 413, "limit"),
    ("bad.json", b"{not json", 422, "bad.json"),
    ("records.json", b'[{"title": "no text"}]', 422, "text"),
]


@pytest.mark.parametrize(("filename", "data", "status", "message"), BAD_FILES,
                         ids=[f[0] for f in BAD_FILES])
def test_bad_file_upload(client, guarded, filename, data, status, message) -> None:
    response = upload_files(client, guarded, (filename, data))
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and message in detail.lower()
    assert_intact(client, guarded)


def test_one_bad_file_rejects_the_whole_upload(client, collection) -> None:
    response = upload_files(client, collection, ("good.txt", b"Perfectly fine text."),
                            ("empty.txt", b""))
    assert response.status_code == 422 and "empty.txt" in response.json()["detail"]
    assert client.get(f"/v1/collections/{collection}/documents").json()["documents"] == []


def test_multipart_without_files_field(client, guarded) -> None:
    response = client.post(f"/v1/collections/{guarded}/documents", data={"other": "x"},
                           files=[("attachment", ("a.txt", b"hello", "text/plain"))])
    assert response.status_code == 422 and "files" in response.json()["detail"]
    assert_intact(client, guarded)


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 422),
        (b'{"documents": []}', "application/json", 422),
        (b'{"documents": [{"title": "no text"}]}', "application/json", 422),
        (b'{"documents": [{"text": ""}]}', "application/json", 422),
        (b'{"documents": [{"text": "ok", "bogus": 1}]}', "application/json", 422),
        (b'{"docs": [{"text": "ok"}]}', "application/json", 422),
        (b'["text"]', "application/json", 422),
        (b"", "application/json", 422),
        (b"plain words", "text/plain", 415),
        (b"<x/>", "application/xml", 415),
        (b"a=b", "application/x-www-form-urlencoded", 415),
        (b"plain words", None, 415),
    ],
)
def test_bad_document_body(client, guarded, content, content_type, status) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(f"/v1/collections/{guarded}/documents", content=content,
                           headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert_intact(client, guarded)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/collections/nope/documents", {"documents": [{"text": "x"}]}),
        ("get", "/v1/collections/nope/documents", None),
        ("get", "/v1/collections/nope/documents/x", None),
        ("delete", "/v1/collections/nope/documents/x", None),
        ("delete", "/v1/collections/nope", None),
        ("post", "/v1/collections/nope/retrieve", {"query": "x"}),
        ("post", "/v1/collections/nope/ask", {"question": "x"}),
    ],
)
def test_unknown_collection_is_404(client, method, path, body) -> None:
    kwargs = {"json": body} if body is not None else {}
    response = client.request(method.upper(), path, **kwargs)
    assert response.status_code == 404
    assert "'nope' not found" in response.json()["detail"]


@pytest.mark.parametrize("name", ["bad name", ".hidden", "x" * 65])
def test_invalid_collection_name_in_path_is_422(client, name) -> None:
    response = client.post(f"/v1/collections/{name}/ask", json={"question": "x"})
    assert response.status_code == 422
    assert "invalid collection name" in response.json()["detail"]


@pytest.mark.parametrize("endpoint", ["retrieve", "ask"])
@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "   "},
        {"text": "x" * 5000},
        {"text": "fine", "top_k": 0},
        {"text": "fine", "top_k": -3},
        {"text": "fine", "top_k": 10**6},
        {"text": "fine", "top_k": "many"},
        {"text": "fine", "retriever": "magic"},
        {"text": "fine", "unexpected": True},
        {},
    ],
    ids=["empty", "blank", "too-long", "k0", "k-neg", "k-huge", "k-str", "retriever", "extra",
         "missing"],
)
def test_bad_question_is_422(client, guarded, endpoint, body) -> None:
    key = "query" if endpoint == "retrieve" else "question"
    payload = {(key if k == "text" else k): v for k, v in body.items()}
    response = client.post(f"/v1/collections/{guarded}/{endpoint}", json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize("endpoint", ["retrieve", "ask"])
def test_malformed_json_question_is_422(client, guarded, endpoint) -> None:
    response = client.post(f"/v1/collections/{guarded}/{endpoint}", content=b"{'query':",
                           headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert_intact(client, guarded)


@pytest.mark.parametrize("params", ["limit=0", "limit=5000", "offset=-1", "limit=abc"])
def test_bad_paging_is_422(client, guarded, params) -> None:
    assert client.get(f"/v1/collections/{guarded}/documents?{params}").status_code == 422


def test_everything_still_there_after_the_barrage(client, guarded) -> None:
    assert_intact(client, guarded)
    answer = client.post(f"/v1/collections/{guarded}/ask",
                         json={"question": "When was the Eiffel Tower completed?"}).json()
    assert answer["citations"][0]["document_id"] == "eiffel"
