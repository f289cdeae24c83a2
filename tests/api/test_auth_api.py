"""Auth on (issue 8): a key sees only its own collections, jobs and sessions; others get
the same 404 as for something that does not exist. Real uvicorn, `auth_server` fixture."""

from __future__ import annotations

import logging

import httpx
import pytest

from rag.service import keys
from tests.api.conftest import unique_name, upload_json, wait_for_job

pytestmark = pytest.mark.integration

RECORDS = [
    {"id": "heron", "title": "Herons", "text": "The grey heron stands still in shallow water "
     "and waits for fish."},
    {"id": "kiln", "title": "Kilns", "text": "A kiln fires clay at high temperature to make "
     "pottery hard."},
]


def make_collection(http: httpx.Client) -> str:
    name = unique_name("owned")
    response = http.post("/v1/collections", json={"name": name})
    assert response.status_code == 201, response.text
    return name


@pytest.fixture(scope="module")
def alice(key_client) -> httpx.Client:
    return key_client("alice")


@pytest.fixture(scope="module")
def bob(key_client) -> httpx.Client:
    return key_client("bob")


@pytest.fixture(scope="module")
def admin(key_client) -> httpx.Client:
    return key_client("root", admin=True)


@pytest.fixture(scope="module")
def owned(alice) -> dict:
    """Alice's collection with two indexed documents, and her indexing job."""
    name = make_collection(alice)
    body = upload_json(alice, name, RECORDS)
    return {"name": name, "job_id": body["job_id"]}


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)


V1_REQUESTS = [
    ("GET", "/v1/collections", None),
    ("POST", "/v1/collections", {"name": "nokey"}),
    ("POST", "/v1/collections/any/retrieve", {"query": "heron"}),
    ("POST", "/v1/collections/any/ask", {"question": "heron?"}),
    ("GET", "/v1/collections/any/documents", None),
    ("GET", "/v1/jobs/abc", None),
    ("GET", "/v1/benchmarks/datasets", None),
    ("GET", "/v1/sessions", None),
    ("POST", "/v1/chat/completions", {"model": "any", "messages": [{"role": "user",
                                                                   "content": "hi"}]}),
]


@pytest.mark.parametrize(("method", "path", "body"), V1_REQUESTS,
                         ids=[f"{m} {p}" for m, p, _ in V1_REQUESTS])
def test_no_key_is_401(auth_server, method, path, body) -> None:
    kwargs = {"json": body} if body is not None else {}
    assert_401(httpx.request(method, auth_server.url + path, **kwargs))


@pytest.mark.parametrize("header", ["Bearer rgm_not-a-real-key", "Bearer", "Basic dXNlcjpwYXNz",
                                    "rgm_without_scheme"])
def test_bad_key_is_401(auth_server, header) -> None:
    assert_401(httpx.get(f"{auth_server.url}/v1/collections", headers={"Authorization": header}))


def test_health_and_docs_stay_open(auth_server) -> None:
    for path in ("/healthz", "/docs", "/openapi.json"):
        assert httpx.get(auth_server.url + path).status_code == 200, path


def test_revoked_key_is_401(auth_server, key_client) -> None:
    carol = key_client("carol")
    assert carol.get("/v1/collections").status_code == 200
    keys.revoke_key(auth_server.service.store, str(carol.key.id))
    response = carol.get("/v1/collections")
    assert_401(response)
    assert "revoked" in response.json()["detail"]


def test_owner_uses_its_collection(alice, owned) -> None:
    names = [c["name"] for c in alice.get("/v1/collections").json()["collections"]]
    assert owned["name"] in names
    hits = alice.post(f"/v1/collections/{owned['name']}/retrieve", json={"query": "heron fish"})
    assert hits.status_code == 200 and hits.json()["results"][0]["document_id"] == "heron"
    assert alice.get(f"/v1/jobs/{owned['job_id']}").json()["status"] == "done"


def other_key_requests(name: str, job_id: str) -> list[tuple[str, str, dict | None]]:
    base = f"/v1/collections/{name}"
    return [
        ("GET", f"{base}/documents", None),
        ("GET", f"{base}/documents/heron", None),
        ("DELETE", f"{base}/documents/heron", None),
        ("POST", f"{base}/documents", {"documents": [{"text": "planted by another key"}]}),
        ("POST", f"{base}/retrieve", {"query": "heron"}),
        ("POST", f"{base}/ask", {"question": "What does the heron wait for?"}),
        ("POST", f"{base}/ask", {"question": "heron?", "stream": True}),
        ("DELETE", base, None),
        ("GET", f"/v1/jobs/{job_id}", None),
        ("POST", "/v1/chat/completions", {"model": name, "messages": [
            {"role": "user", "content": "What does the heron wait for?"}]}),
    ]


def test_another_key_gets_404_for_everything(bob, alice, owned) -> None:
    listed = [c["name"] for c in bob.get("/v1/collections").json()["collections"]]
    assert owned["name"] not in listed
    missing = bob.post("/v1/collections/never-made/retrieve", json={"query": "x"}).json()
    for method, path, body in other_key_requests(owned["name"], owned["job_id"]):
        response = bob.request(method, path, **({"json": body} if body is not None else {}))
        assert response.status_code == 404, (method, path, response.text)
        if "/jobs/" not in path:  # the same words as for a collection that does not exist
            assert response.json()["detail"] == missing["detail"].replace("never-made",
                                                                          owned["name"])
    # Alice's data is untouched, and the name stays hers (names are global).
    docs = alice.get(f"/v1/collections/{owned['name']}/documents").json()["documents"]
    assert sorted(d["id"] for d in docs) == ["heron", "kiln"]
    assert bob.post("/v1/collections", json={"name": owned["name"]}).status_code == 409


def test_admin_sees_every_collection(admin, owned, auth_server) -> None:
    ownerless = unique_name("ownerless")
    auth_server.service.create_collection(ownerless)  # as with auth off: no owner
    listed = [c["name"] for c in admin.get("/v1/collections").json()["collections"]]
    assert {owned["name"], ownerless} <= set(listed)
    hits = admin.post(f"/v1/collections/{owned['name']}/retrieve", json={"query": "clay kiln"})
    assert hits.status_code == 200 and hits.json()["results"][0]["document_id"] == "kiln"
    assert admin.get(f"/v1/jobs/{owned['job_id']}").status_code == 200
    assert admin.get(f"/v1/collections/{ownerless}/documents").status_code == 200


def test_ownerless_collection_is_admin_only(alice, auth_server) -> None:
    ownerless = unique_name("ownerless")
    auth_server.service.create_collection(ownerless)
    assert ownerless not in [c["name"] for c in alice.get("/v1/collections").json()["collections"]]
    assert alice.get(f"/v1/collections/{ownerless}/documents").status_code == 404


def test_keys_do_not_share_jobs_of_their_own_uploads(bob, alice) -> None:
    mine = make_collection(bob)
    job_id = upload_json(bob, mine, RECORDS[:1], wait=False)["job_id"]
    assert wait_for_job(bob, job_id)["status"] == "done"
    assert alice.get(f"/v1/jobs/{job_id}").status_code == 404


def test_benchmark_jobs_are_the_starters(auth_server, key_client, alice) -> None:
    dave = key_client("dave")
    job_id = auth_server.service.store.create_job(None, kind="benchmark", total=0,
                                                  owner_key_id=dave.key.id)
    assert dave.get(f"/v1/benchmarks/{job_id}").status_code == 200
    assert alice.get(f"/v1/benchmarks/{job_id}").status_code == 404
    assert alice.get(f"/v1/jobs/{job_id}").status_code == 404
    auth_server.service.store.update_job(job_id, status="failed", error="test row")


def test_sessions_are_private(alice, bob, admin, owned) -> None:
    session = alice.post("/v1/sessions", json={"name": "alice's"}).json()["id"]
    assert alice.post(f"/v1/sessions/{session}/messages",
                      json={"role": "user", "content": "My locker code is 4417."}).status_code == 201
    assert session in [s["id"] for s in alice.get("/v1/sessions").json()["sessions"]]
    assert session not in [s["id"] for s in bob.get("/v1/sessions").json()["sessions"]]
    base = f"/v1/sessions/{session}"
    for method, path, body in [
        ("GET", base, None), ("GET", f"{base}/messages", None),
        ("POST", f"{base}/messages", {"role": "user", "content": "overwrite"}),
        ("GET", f"{base}/context?query=locker", None), ("GET", f"{base}/core", None),
        ("PUT", f"{base}/core/k", {"value": "v"}), ("GET", f"{base}/recall?query=locker", None),
        ("POST", f"{base}/archival", {"text": "planted"}), ("DELETE", base, None),
    ]:
        response = bob.request(method, path, **({"json": body} if body is not None else {}))
        assert response.status_code == 404, (method, path, response.text)
    theirs = make_collection(bob)
    asked = bob.post(f"/v1/collections/{theirs}/ask",
                     json={"question": "What is the locker code?", "session_id": session})
    assert asked.status_code == 404, asked.text
    assert len(alice.get(f"{base}/messages").json()["messages"]) == 1
    assert admin.get(base).status_code == 200
    assert alice.delete(base).status_code == 204


def test_start_up_log_says_whether_auth_is_on(caplog) -> None:
    from api.app import log_auth

    with caplog.at_level(logging.INFO, logger="api.app"):
        log_auth(keys.decide_auth("auto", "0.0.0.0"), active_keys=0)
        log_auth(keys.decide_auth("auto", "127.0.0.1"), active_keys=0)
    first, second = caplog.records
    assert first.getMessage().startswith("auth: on (non-loopback bind 0.0.0.0)")
    assert first.levelno == logging.WARNING and "ragmem keys create" in first.getMessage()
    assert second.getMessage() == "auth: off (loopback bind 127.0.0.1)"
