"""A table of bad inputs against a live server: each gets its exact 4xx, and after each
the server is healthy and a stored document is still retrievable.

Uses tests/api's in-process uvicorn server (per-file upload limit 4096 bytes; default
body limits: 16 MiB for JSON, 256 MiB for a multipart request, JSON depth 64).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.api.conftest import unique_name, upload_json

pytestmark = pytest.mark.integration

TOKEN = "guardtok"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def guarded(client) -> str:
    """A collection whose document every bad request must leave retrievable."""
    name = unique_name("guard")
    assert client.post("/v1/collections", json={"name": name}).status_code == 201
    upload_json(client, name, [{"id": "keep", "text": f"The {TOKEN} document stays put."}])
    return name


def raw(method: str, path: str, content: bytes | Iterator[bytes] = b"",
        headers: dict[str, str] | None = None) -> Callable[[httpx.Client, str], httpx.Response]:
    """A request with an exact body; `{c}` in the path is the guarded collection."""
    return lambda http, c: http.request(method, path.format(c=c), content=content,
                                        headers=headers or {})


def as_json(method: str, path: str, body: object) -> Callable[[httpx.Client, str], httpx.Response]:
    return lambda http, c: http.request(method, path.format(c=c), json=body)


def files(*parts: tuple[str, bytes]) -> Callable[[httpx.Client, str], httpx.Response]:
    return lambda http, c: http.post(f"/v1/collections/{c}/documents",
                                     files=[("files", (n, d, "application/octet-stream"))
                                            for n, d in parts])


def chunked_json(size: int) -> Callable[[httpx.Client, str], httpx.Response]:
    """A JSON upload of `size` bytes sent chunked (no Content-Length)."""
    def body() -> Iterator[bytes]:
        yield b'{"documents": [{"text": "'
        for _ in range(size // 2**20):
            yield b"a" * 2**20
        yield b'"}]}'

    return lambda http, c: http.post(f"/v1/collections/{c}/documents", content=body(),
                                     headers=JSON)


def hundred_mb(http: httpx.Client, collection: str) -> httpx.Response:
    """A 100 MiB file streamed from a sparse temp file (never held in memory)."""
    with tempfile.TemporaryFile() as sparse:
        sparse.truncate(100 * 2**20)
        started = time.monotonic()
        response = http.post(f"/v1/collections/{collection}/documents",
                             files=[("files", ("big.txt", sparse, "text/plain"))])
    assert time.monotonic() - started < 60
    return response


DOCS = "/v1/collections/{c}/documents"
RETRIEVE = "/v1/collections/{c}/retrieve"
ASK = "/v1/collections/{c}/ask"

CASES: list[tuple[str, Callable[[httpx.Client, str], httpx.Response], int]] = [
    # uploads
    ("empty-file", files(("empty.txt", b"")), 422),
    ("zero-byte-json-body", raw("POST", DOCS, b"", JSON), 422),
    ("zero-byte-multipart-body", raw("POST", DOCS, b"",
                                     {"content-type": "multipart/form-data; boundary=xyz"}), 422),
    ("multipart-without-boundary", raw("POST", DOCS, b"x",
                                       {"content-type": "multipart/form-data"}), 400),
    ("binary-as-txt", files(("data.txt", bytes(range(256)) * 4)), 422),
    ("nul-bytes-in-txt", files(("nul.txt", b"text\x00with\x00nuls")), 422),
    ("malformed-pdf", files(("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n%%EOF")), 422),
    ("invalid-utf8", files(("latin.txt", b"caf\xe9 cr\xe8me \xc3\x28")), 422),
    ("unsupported-type", files(("program.exe", b"MZ\x90\x00")), 415),
    ("no-extension", files(("README", b"plain text")), 415),
    ("over-file-limit", files(("big.txt", b"a" * 4097)), 413),
    ("100-mib-upload", hundred_mb, 413),
    ("huge-json", raw("POST", DOCS, b'{"documents": [{"text": "' + b"a" * (17 * 2**20) + b'"}]}',
                      JSON), 413),
    ("huge-json-chunked", chunked_json(17 * 2**20), 413),
    ("deeply-nested-json", raw("POST", RETRIEVE, b'{"query": ' + b"[" * 10_000 + b"]" * 10_000
                               + b"}", JSON), 422),
    ("deeply-nested-metadata", raw("POST", DOCS, b'{"documents": [{"text": "x", "metadata": '
                                   + b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}]}", JSON), 422),
    ("malformed-json", raw("POST", DOCS, b'{"documents": [{"text": ', JSON), 422),
    ("invalid-utf8-in-json", raw("POST", RETRIEVE, b'{"query": "\xff\xfe"}', JSON), 400),
    ("top-level-array", as_json("POST", RETRIEVE, ["query"]), 422),
    ("too-many-documents", as_json("POST", DOCS, {"documents": [{"text": f"d{i}"}
                                                                 for i in range(10_001)]}), 422),
    # wrong content types
    ("text-plain-to-retrieve", raw("POST", RETRIEVE, b'{"query": "x"}',
                                   {"content-type": "text/plain"}), 422),
    ("text-plain-upload", raw("POST", DOCS, b"plain words", {"content-type": "text/plain"}), 415),
    ("xml-upload", raw("POST", DOCS, b"<doc/>", {"content-type": "application/xml"}), 415),
    # unicode edge cases
    ("lone-surrogate-query", raw("POST", RETRIEVE, b'{"query": "a \\ud800 b"}', JSON), 422),
    ("lone-surrogate-question", raw("POST", ASK, b'{"question": "\\udfff?"}', JSON), 422),
    ("lone-surrogate-document", raw("POST", DOCS, b'{"documents": [{"text": "a \\udc00"}]}',
                                    JSON), 422),
    ("nul-in-collection-name", as_json("POST", "/v1/collections", {"name": "ab\u0000c"}), 422),
    ("rtl-override-in-name", as_json("POST", "/v1/collections", {"name": "abc\u202egpj"}), 422),
    ("zero-width-in-name", as_json("POST", "/v1/collections", {"name": "ab\u200bc"}), 422),
    ("emoji-in-name", as_json("POST", "/v1/collections", {"name": "docs\U0001f600"}), 422),
    # names and paths
    ("unknown-collection", as_json("POST", "/v1/collections/no-such-thing/retrieve",
                                   {"query": "x"}), 404),
    ("invalid-collection-name", as_json("POST", "/v1/collections/bad name!/ask",
                                        {"question": "x"}), 422),
    ("dot-dot-document-id", raw("GET", DOCS + "/..%2F..%2Fetc%2Fpasswd"), 404),
    ("wrong-method", raw("PUT", "/v1/collections/{c}"), 405),
    # questions
    ("empty-question", as_json("POST", ASK, {"question": ""}), 422),
    ("blank-query", as_json("POST", RETRIEVE, {"query": " \n\t "}), 422),
    ("query-over-max-length", as_json("POST", RETRIEVE, {"query": "x" * 4001}), 422),
    ("top-k-zero", as_json("POST", RETRIEVE, {"query": "x", "top_k": 0}), 422),
    ("top-k-million", as_json("POST", RETRIEVE, {"query": "x", "top_k": 10**6}), 422),
    ("unknown-retriever", as_json("POST", RETRIEVE, {"query": "x", "retriever": "magic"}), 422),
]


@pytest.mark.parametrize(("send", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_a_4xx_and_the_server_stays_healthy(client, guarded, send, status) -> None:
    response = send(client, guarded)
    assert response.status_code == status, response.text[:500]
    assert response.json()["detail"]
    assert client.get("/healthz").json()["status"] == "ok"
    hits = client.post(f"/v1/collections/{guarded}/retrieve",
                       json={"query": TOKEN, "retriever": "bm25", "top_k": 1}).json()["results"]
    assert [h["document_id"] for h in hits] == ["keep"]


def test_path_traversal_file_name_is_stored_sanitized(client, collection) -> None:
    response = client.post(f"/v1/collections/{collection}/documents",
                           files=[("files", ("../../etc/passwd.txt", b"root:x:0:0", "text/plain"))])
    assert response.status_code == 202, response.text
    docs = client.get(f"/v1/collections/{collection}/documents").json()["documents"]
    assert [d["source"] for d in docs] == ["etc/passwd.txt"]
    assert [d["title"] for d in docs] == ["passwd"]


def test_table_size() -> None:
    assert len(CASES) >= 20
