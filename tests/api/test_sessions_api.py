"""/v1/sessions and ask through memory, on the real uvicorn server."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import start_server, unique_name, upload_json
from tests.api.test_chat import sse_events

pytestmark = pytest.mark.integration

FILLER = ("The committee met again to review the quarterly figures and the plans for the "
          "coming season, and the minutes were approved without comment. ")


@pytest.fixture
def session(client) -> str:
    response = client.post("/v1/sessions", json={"name": "test", "metadata": {"user": "ada"}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_session_lifecycle(client):
    created = client.post("/v1/sessions")
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    body = {"collection": "docs", "metadata": {"team": "blue"}}
    other = client.post("/v1/sessions", json=body).json()
    assert other["collection"] == "docs" and other["metadata"] == {"team": "blue"}

    one = client.post(f"/v1/sessions/{sid}/messages", json={"role": "user", "content": "Hello there."})
    assert one.status_code == 201 and one.json()["messages"][0]["seq"] == 0
    many = client.post(f"/v1/sessions/{sid}/messages", json={"messages": [
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "Remember that my locker code is 4417."}]})
    assert [m["seq"] for m in many.json()["messages"]] == [1, 2]
    listed = client.get(f"/v1/sessions/{sid}/messages").json()["messages"]
    assert [m["role"] for m in listed] == ["user", "assistant", "user"]
    shown = client.get(f"/v1/sessions/{sid}").json()
    assert shown["counts"] == {"messages": 3, "core": 0, "archival": 0}
    assert sid in {s["id"] for s in client.get("/v1/sessions").json()["sessions"]}

    assert client.delete(f"/v1/sessions/{sid}").status_code == 204
    assert client.get(f"/v1/sessions/{sid}").status_code == 404
    assert client.delete(f"/v1/sessions/{sid}").status_code == 404


def test_core_memory(client, session):
    base = f"/v1/sessions/{session}/core"
    assert client.get(base).json() == {"core": {}}
    assert client.put(f"{base}/name", json={"value": "Ada"}).json() == {"core": {"name": "Ada"}}
    whole = client.put(base, json={"core": {"city": "Turin", "diet": "vegetarian"}})
    assert whole.json() == {"core": {"city": "Turin", "diet": "vegetarian"}}
    assert client.delete(f"{base}/diet").json() == {"core": {"city": "Turin"}}
    assert client.delete(f"{base}/diet").status_code == 404
    assert client.put(f"{base}/x", json={"value": ""}).status_code == 422


def test_archival_and_recall(client, session):
    base = f"/v1/sessions/{session}"
    for text in ("The staging database lives on host db-7f3a.internal.",
                 "Our on-call rotation changes every Monday at 09:00.",
                 "The marketing budget for spring is forty thousand euros."):
        inserted = client.post(f"{base}/archival", json={"text": text})
        assert inserted.status_code == 201 and inserted.json()["text"] == text
    found = client.get(f"{base}/archival", params={"query": "which host has the staging database?",
                                                   "k": 2}).json()["results"]
    assert found[0]["text"].startswith("The staging database") and len(found) <= 2
    client.post(f"{base}/messages", json={"messages": [
        {"role": "user", "content": "My sister's name is Beatrice."},
        {"role": "user", "content": "I bought a red bicycle yesterday."}]})
    recalled = client.get(f"{base}/recall", params={"query": "what is my sister called"}).json()
    assert recalled["results"][0]["text"] == "user: My sister's name is Beatrice."
    assert recalled["results"][0]["tier"] == "recall"


def test_context_has_provenance(client, session):
    base = f"/v1/sessions/{session}"
    client.put(f"{base}/core/name", json={"value": "Ada"})
    client.post(f"{base}/archival", json={"text": "Ada's flight to Lisbon leaves at 7:40."})
    turns = [{"role": "user", "content": f"Note {i}: {FILLER}"} for i in range(30)]
    turns.insert(5, {"role": "user", "content": "The wifi password at the cabin is PELICAN-93."})
    client.post(f"{base}/messages", json={"messages": turns})
    response = client.get(f"{base}/context", params={"query": "cabin wifi password", "budget": 600})
    assert response.status_code == 200, response.text
    ctx = response.json()
    assert 0 < ctx["n_tokens"] <= 600 and ctx["budget"] == 600
    tiers = {p["tier"] for p in ctx["pieces"]}
    assert {"core", "recall"} <= tiers
    messages = {m["seq"]: m for m in client.get(f"{base}/messages").json()["messages"]}
    recall = [p for p in ctx["pieces"] if p["tier"] == "recall"]
    assert {p["kind"] for p in recall} <= {"sink", "block", "local"}
    for piece in recall:
        seq = int(piece["source"].split(":")[1])
        record = f"{messages[seq]['role']}: {messages[seq]['content']}"
        assert record[piece["start"]:piece["end"]] == piece["text"] and piece["tokens"] > 0
    assert any("PELICAN-93" in p["text"] for p in recall if p["kind"] == "block")
    assert "PELICAN-93" in ctx["text"] and "name: Ada" in ctx["text"]


def test_ask_with_session_appends_turns(client, collection, session):
    upload_json(client, collection, [{"id": "tower", "title": "Eiffel Tower", "text":
                                      "The Eiffel Tower is a lattice tower in Paris. It is "
                                      "named after the engineer Gustave Eiffel."}])
    client.put(f"/v1/sessions/{session}/core/favourite_colour", json={"value": "teal"})
    question = "Who is the Eiffel Tower named after?"
    response = client.post(f"/v1/collections/{collection}/ask",
                           json={"question": question, "session_id": session})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["retrieval"]["mode"] == "session"
    assert body["retrieval"]["session"]["id"] == session
    assert any(p["tier"] == "core" for p in body["retrieval"]["session"]["pieces"])
    assert "Gustave Eiffel" in body["answer"]
    messages = client.get(f"/v1/sessions/{session}/messages").json()["messages"]
    assert [(m["role"], m["content"]) for m in messages[-2:]] == [("user", question),
                                                                  ("assistant", body["answer"])]


def test_ask_with_session_streams_and_appends_turns(client, collection):
    upload_json(client, collection, [{"id": "tower", "title": "Eiffel Tower", "text":
                                      "The Eiffel Tower is a lattice tower in Paris. It is "
                                      "named after the engineer Gustave Eiffel."}])
    session = client.post("/v1/sessions", json={"collection": collection}).json()["id"]
    client.post(f"/v1/sessions/{session}/messages", json={
        "role": "user", "content": "My locker at the gym is number 4417."})
    question = "Who is the Eiffel Tower named after?"
    response = client.post(f"/v1/collections/{collection}/ask",
                           json={"question": question, "session_id": session, "stream": True})
    assert response.status_code == 200, response.text
    events = sse_events(response)
    assert [name for name, _ in events][-2:] == ["citations", "done"]
    cited, done = events[-2][1], events[-1][1]
    assert "Gustave Eiffel" in done["answer"]
    assert "".join(data["text"] for name, data in events[:-2]) == done["answer"]
    assert cited["retrieval"]["mode"] == "session" and cited["retrieval"]["session"]["id"] == session
    assert any(c["document_id"] == "tower" for c in cited["citations"])
    messages = client.get(f"/v1/sessions/{session}/messages").json()["messages"]
    assert [(m["role"], m["content"]) for m in messages[-2:]] == [("user", question),
                                                                  ("assistant", done["answer"])]
    # a session recalls its own turns: the recalled message is cited with its message id
    recalled = client.post(f"/v1/collections/{collection}/ask", json={
        "question": "What number is my gym locker?", "session_id": session, "stream": True})
    cited = sse_events(recalled)[-2][1]
    sources = {c["title"] for c in cited["citations"] if c["document_id"] == f"session:{session}"}
    assert "message:0" in sources, cited["citations"]

    other = unique_name("other")
    assert client.post("/v1/collections", json={"name": other}).status_code == 201
    for stream in (False, True):  # bound to `collection`: asking another one is a 409
        wrong = client.post(f"/v1/collections/{other}/ask",
                            json={"question": question, "session_id": session, "stream": stream})
        assert wrong.status_code == 409 and collection in wrong.json()["detail"]
        ghost = client.post(f"/v1/collections/{collection}/ask",
                            json={"question": question, "session_id": unique_name("g"),
                                  "stream": stream})
        assert ghost.status_code == 404
    assert len(client.get(f"/v1/sessions/{session}/messages").json()["messages"]) == 5


def test_ask_with_document_cites_real_spans(client, collection):
    fact = "The vault combination chosen by the curator is 62-17-48."
    paragraphs = [f"Section {i}. {FILLER * 3}" for i in range(60)]
    paragraphs.insert(37, fact)
    text = "\n\n".join(paragraphs)
    upload_json(client, collection, [{"id": "minutes", "title": "Minutes", "text": text}])
    response = client.post(f"/v1/collections/{collection}/ask",
                           json={"question": "What is the vault combination chosen by the curator?",
                                 "document_id": "minutes"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["retrieval"]["mode"] == "memory" and body["retrieval"]["pieces"]
    assert "62-17-48" in body["answer"] and body["citations"]
    stored = client.get(f"/v1/collections/{collection}/documents/minutes",
                        params={"text": "true"}).json()["text"]
    for cite in body["citations"]:
        assert cite["document_id"] == "minutes"
        assert stored[cite["start"]:cite["end"]] == cite["text"]
    missing = client.post(f"/v1/collections/{collection}/ask",
                          json={"question": "anything?", "document_id": "nope"})
    assert missing.status_code == 404


    streamed = client.post(f"/v1/collections/{collection}/ask", json={
        "question": "What is the vault combination chosen by the curator?",
        "document_id": "minutes", "stream": True})
    assert streamed.status_code == 200, streamed.text
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed)
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"token"}
    cited, done = events[-2][1], events[-1][1]
    assert "".join(data["text"] for name, data in events[:-2]) == done["answer"] == body["answer"]
    assert cited["citations"] == body["citations"] and cited["retrieval"]["mode"] == "memory"
    for stream in (False, True):  # 404 before any stream opens
        missing = client.post(f"/v1/collections/{collection}/ask",
                              json={"question": "anything?", "document_id": "nope", "stream": stream})
        assert missing.status_code == 404 and missing.headers["content-type"].startswith(
            "application/json")


def test_unknown_session_and_bad_input(client, collection, session):
    ghost = unique_name("ghost")
    assert client.get(f"/v1/sessions/{ghost}").status_code == 404
    assert client.post(f"/v1/sessions/{ghost}/messages",
                       json={"role": "user", "content": "hi"}).status_code == 404
    assert client.get(f"/v1/sessions/{ghost}/context", params={"query": "x"}).status_code == 404
    assert client.get(f"/v1/sessions/{ghost}/core").status_code == 404
    assert client.get(f"/v1/sessions/{ghost}/recall", params={"query": "x"}).status_code == 404
    asked = client.post(f"/v1/collections/{collection}/ask", json={"question": "hi", "session_id": ghost})
    assert asked.status_code == 404

    base = f"/v1/sessions/{session}"
    assert client.post(f"{base}/messages", json={"role": "robot", "content": "hi"}).status_code == 422
    assert client.post(f"{base}/messages", json={"role": "user", "content": ""}).status_code == 422
    assert client.post(f"{base}/messages", json={"role": "user", "content": "   "}).status_code == 422
    assert client.post(f"{base}/messages", json={"messages": []}).status_code == 422
    assert client.get(f"{base}/context", params={"query": "x", "budget": 0}).status_code == 422
    assert client.get(f"{base}/context").status_code == 422
    assert client.get(f"{base}/recall", params={"query": "x", "k": 0}).status_code == 422
    assert client.post(f"{base}/archival", json={"text": ""}).status_code == 422
    both = client.post(f"/v1/collections/{collection}/ask",
                       json={"question": "hi", "session_id": session, "document_id": "d"})
    assert both.status_code == 422
    assert client.get(f"{base}/messages").json()["messages"] == []


def test_sessions_survive_a_restart(tmp_path, embedder):
    first = start_server(tmp_path, embedder)
    try:
        with httpx.Client(base_url=first.url, timeout=60) as http:
            sid = http.post("/v1/sessions", json={"metadata": {"n": 1}}).json()["id"]
            http.post(f"/v1/sessions/{sid}/messages", json={"messages": [
                {"role": "user", "content": "My dentist appointment is on Thursday."},
                {"role": "user", "content": "The garage door code is 8-8-2-1."}]})
            http.put(f"/v1/sessions/{sid}/core/name", json={"value": "Ada"})
            http.post(f"/v1/sessions/{sid}/archival", json={"text": "Grandma's recipe uses cardamom."})
    finally:
        first.stop()
    assert (tmp_path / "memory").is_dir() and any((tmp_path / "memory").glob("*.faiss"))
    second = start_server(tmp_path, embedder)
    try:
        with httpx.Client(base_url=second.url, timeout=60) as http:
            shown = http.get(f"/v1/sessions/{sid}").json()
            assert shown["counts"] == {"messages": 2, "core": 1, "archival": 1}
            assert shown["metadata"] == {"n": 1}
            hits = http.get(f"/v1/sessions/{sid}/recall", params={"query": "garage code"}).json()
            assert hits["results"][0]["text"] == "user: The garage door code is 8-8-2-1."
            found = http.get(f"/v1/sessions/{sid}/archival", params={"query": "recipe spice"}).json()
            assert found["results"][0]["text"] == "Grandma's recipe uses cardamom."
    finally:
        second.stop()


def test_a_session_and_its_owner_are_one_write(auth_server, key_client):
    """The owner row failing leaves no session behind (was: an unowned, admin-only one)."""
    alice = key_client("alice")
    store = auth_server.service.store
    before = {s["id"] for s in auth_server.service.memory.list_sessions()}
    with store.transaction() as conn:  # the owner write fails, as a full disk or a crash would
        conn.execute("CREATE TRIGGER no_owner BEFORE INSERT ON session_owners"
                     " BEGIN SELECT RAISE(ABORT, 'owner write failed'); END")
    close = {"Connection": "close"}  # after a 500 uvicorn drops the connection: no reuse
    try:
        assert alice.post("/v1/sessions", json={"name": "orphan?"}, headers=close).status_code == 500
    finally:
        with store.transaction() as conn:
            conn.execute("DROP TRIGGER no_owner")
    assert {s["id"] for s in auth_server.service.memory.list_sessions()} == before
    made = alice.post("/v1/sessions", json={"name": "owned"}).json()["id"]
    assert made in {s["id"] for s in alice.get("/v1/sessions").json()["sessions"]}

    with store.transaction() as conn:  # deleting: the owner row and the session go together
        conn.execute("CREATE TRIGGER keep_owner BEFORE DELETE ON session_owners"
                     " BEGIN SELECT RAISE(ABORT, 'owner delete failed'); END")
    try:
        assert alice.delete(f"/v1/sessions/{made}", headers=close).status_code == 500
    finally:
        with store.transaction() as conn:
            conn.execute("DROP TRIGGER keep_owner")
    assert alice.get(f"/v1/sessions/{made}").status_code == 200
    assert alice.delete(f"/v1/sessions/{made}").status_code == 204
