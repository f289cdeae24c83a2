"""/healthz, /v1/collections, OpenAPI."""

from __future__ import annotations

import pytest

from tests.api.conftest import unique_name, upload_json

pytestmark = pytest.mark.integration

COLLECTION_KEYS = {"name", "embedder", "dim", "documents", "chunks"}


def test_healthz(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and isinstance(body["collections"], int)


def test_create_list_delete(client) -> None:
    name = unique_name()
    response = client.post("/v1/collections", json={"name": name})
    assert response.status_code == 201
    assert response.json() == {"name": name, "embedder": "all-MiniLM-L6-v2", "dim": 384,
                               "documents": 0, "chunks": 0}

    listed = client.get("/v1/collections")
    assert listed.status_code == 200
    rows = {c["name"]: c for c in listed.json()["collections"]}
    assert set(rows[name]) == COLLECTION_KEYS

    deleted = client.delete(f"/v1/collections/{name}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert name not in {c["name"] for c in client.get("/v1/collections").json()["collections"]}
    assert client.delete(f"/v1/collections/{name}").status_code == 404
    assert client.get(f"/v1/collections/{name}/documents").status_code == 404


def test_duplicate_collection_is_409(client, collection) -> None:
    response = client.post("/v1/collections", json={"name": collection})
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 65, "café", "a b",
                                  "docs\n"])
def test_invalid_collection_name_is_422(client, name) -> None:
    response = client.post("/v1/collections", json={"name": name})
    assert response.status_code == 422
    assert "invalid collection name" in response.json()["detail"]
    assert name not in {c["name"] for c in client.get("/v1/collections").json()["collections"]}


@pytest.mark.parametrize("body", [{}, {"name": 5}, {"name": "ok", "extra": 1}, [], "name"])
def test_malformed_create_body_is_422(client, body) -> None:
    assert client.post("/v1/collections", json=body).status_code == 422


def test_openapi(client) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/v1/collections", "/v1/collections/{name}", "/v1/collections/{name}/documents",
                 "/v1/collections/{name}/documents/{doc_id}", "/v1/jobs/{job_id}",
                 "/v1/collections/{name}/retrieve", "/v1/collections/{name}/ask", "/healthz"):
        assert path in paths, path
    upload = paths["/v1/collections/{name}/documents"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(upload)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_get_one_collection_with_counts_embedder_and_indexes(client, collection) -> None:
    upload_json(client, collection, [{"id": "a", "title": "A", "text": "Otters hold hands."}])
    response = client.get(f"/v1/collections/{collection}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in COLLECTION_KEYS} == {
        "name": collection, "embedder": "all-MiniLM-L6-v2", "dim": 384, "documents": 1,
        "chunks": 1}
    assert {"dense", "bm25"} <= set(body["indexes"]) and body["applied_seq"] >= 1
    assert client.get("/v1/collections/no-such-collection").status_code == 404


def test_docs_page_needs_nothing_outside_the_server(client) -> None:
    import re

    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", docs.text)
    assert urls and not [u for u in urls if u.startswith(("http://", "https://", "//"))]
    assert "cdn" not in docs.text.lower()
    for url in urls:
        assert client.get(url).status_code == 200, url
