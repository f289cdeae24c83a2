"""Limits (issue 8): bodies over their size (413, Content-Length or chunked), JSON nested
too deep (422), too many jobs for one key (429 with Retry-After). Never a 500."""

from __future__ import annotations

import json

import httpx
import pytest

from api.limits import json_depth_exceeds
from tests.api.conftest import AUTH_LIMITS, unique_name, upload_json

pytestmark = pytest.mark.integration

BODY_LIMIT = AUTH_LIMITS["max_body_bytes"]


@pytest.fixture(scope="module")
def erin(key_client) -> httpx.Client:
    return key_client("erin")


@pytest.fixture(scope="module")
def small(erin) -> str:
    name = unique_name("limits")
    assert erin.post("/v1/collections", json={"name": name}).status_code == 201
    upload_json(erin, name, [{"id": "a", "text": "Otters hold hands while they sleep."}])
    return name


def assert_status(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and words in detail


def padded_query(size: int) -> bytes:
    return json.dumps({"query": "otters " + "x" * size}).encode()


def test_body_over_the_limit_with_content_length_is_413(erin, small) -> None:
    response = erin.post(f"/v1/collections/{small}/retrieve", content=padded_query(BODY_LIMIT),
                         headers={"content-type": "application/json"})
    assert_status(response, 413, f"limit of {BODY_LIMIT} bytes")


def test_chunked_body_over_the_limit_is_413(erin, small) -> None:
    def chunks():
        for _ in range(4):
            yield b" " * (BODY_LIMIT // 2)  # JSON whitespace: only the size is wrong
        yield b'{"query": "otters"}'

    response = erin.post(f"/v1/collections/{small}/retrieve", content=chunks(),
                         headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_status(response, 413, "limit")


def test_chunked_body_under_the_limit_is_served(erin, small) -> None:
    response = erin.post(f"/v1/collections/{small}/retrieve",
                         content=iter([b'{"query": ', b'"otters sleep"}']),
                         headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["document_id"] == "a"


def test_multipart_over_the_request_limit_is_413(erin, small) -> None:
    # Each file is under max_upload_bytes; together they pass max_upload_request_bytes.
    per_file = AUTH_LIMITS["max_upload_bytes"] - 100
    count = AUTH_LIMITS["max_upload_request_bytes"] // per_file + 1
    files = [("files", (f"f{n}.txt", b"word " * (per_file // 5), "text/plain"))
             for n in range(count)]
    assert_status(erin.post(f"/v1/collections/{small}/documents", files=files), 413, "limit")
    assert len(erin.get(f"/v1/collections/{small}/documents").json()["documents"]) == 1


def nested(depth: int) -> bytes:
    return b'{"query": "otters", "top_k": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [65, 5000, 200_000])
def test_deep_json_is_422(client, depth) -> None:
    """On the default server (64 levels), wherever a JSON body goes; 5000 and more levels
    would make Python's json raise RecursionError."""
    name = unique_name("deep")
    assert client.post("/v1/collections", json={"name": name}).status_code == 201
    for path in (f"/v1/collections/{name}/retrieve", f"/v1/collections/{name}/documents",
                 "/v1/chat/completions", "/v1/sessions"):
        response = client.post(path, content=nested(depth),
                               headers={"content-type": "application/json"})
        assert_status(response, 422, "nests deeper than 64")
    assert client.get(f"/v1/collections/{name}/documents").json()["documents"] == []


def test_deep_json_under_auth_limit(erin, small) -> None:
    depth = AUTH_LIMITS["max_json_depth"]  # the outer object counts as one level
    assert_status(erin.post(f"/v1/collections/{small}/retrieve", content=nested(depth),
                            headers={"content-type": "application/json"}), 422, "deeper than 16")
    fine = {"documents": [{"text": "Nested metadata is fine.", "metadata": {"a": {"b": [1]}}}]}
    assert erin.post(f"/v1/collections/{small}/documents", json=fine).status_code == 202


def test_too_many_jobs_for_one_key_is_429(auth_server, key_client) -> None:
    frank = key_client("frank")
    name = unique_name("busy")
    assert frank.post("/v1/collections", json={"name": name}).status_code == 201
    store = auth_server.service.store
    row = store.get_collection(name)
    # Jobs that stay queued (never handed to the worker) fill frank's quota.
    held = [store.create_job(row, kind="index", total=0)
            for _ in range(AUTH_LIMITS["max_concurrent_jobs_per_key"])]
    docs = {"documents": [{"text": "One more document for the queue."}]}
    response = frank.post(f"/v1/collections/{name}/documents", json=docs)
    assert_status(response, 429, "limit is 2")
    assert int(response.headers["retry-after"]) > 0
    assert frank.get(f"/v1/collections/{name}/documents").json()["documents"] == []
    assert_status(frank.post("/v1/benchmarks", json={"dataset": "nope"}), 429, "limit is 2")
    # Another key is not held back by frank's jobs.
    other = key_client("grace")
    mine = unique_name("free")
    assert other.post("/v1/collections", json={"name": mine}).status_code == 201
    assert other.post(f"/v1/collections/{mine}/documents", json=docs).status_code == 202
    for job_id in held:
        store.update_job(job_id, status="done")
    assert frank.post(f"/v1/collections/{name}/documents", json=docs).status_code == 202


@pytest.mark.parametrize(
    ("text", "limit", "deeper"),
    [
        (b'{"a": 1}', 1, False),
        (b'{"a": [1]}', 1, True),
        (b'{"a": [1]}', 2, False),
        (b'[[[]]]', 2, True),
        (b'[[], [], {"x": []}]', 2, True),
        (b'[[], [], {"x": []}]', 3, False),
        (b'["[[[[[[", "]]]]]]", "\\"[[[["]', 1, False),  # brackets in strings do not count
        (b"[" * 10_000 + b"]" * 10_000, 64, True),
        (b"[" * 10_000, 64, True),  # unbalanced and deep: refused before the parser sees it
        (b"[[[" + b"]" * 5, 64, False),  # unbalanced, shallow: left to the parser (422)
        (b'{"a": [[1], [[' + b"[" * 63, 64, True),
        (b'{"a": [[1], [[' + b"[" * 60, 64, False),
    ],
)
def test_json_depth_exceeds(text, limit, deeper) -> None:
    assert json_depth_exceeds(text, limit) is deeper
