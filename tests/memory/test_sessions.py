"""Session memory tiers with the real MiniLM embedder."""

from __future__ import annotations

import pytest

from memory.errors import MemoryNotFoundError, SessionNotFoundError
from memory.sessions import SessionMemoryService
from memory.tokens import HFTokenCounter
from tests.memory.conftest import open_stores

pytestmark = pytest.mark.integration

SMALL_TALK = [
    ("user", "Hi, can you help me plan my week?"),
    ("assistant", "Of course. What is on your schedule?"),
    ("user", "I have a dentist appointment on Tuesday at 3pm."),
    ("assistant", "Noted. Anything else?"),
    ("user", "My sister's flight UA-2231 lands at 6:40 on Friday."),
    ("assistant", "I will remember the flight number."),
]


@pytest.fixture(scope="module")
def tmp_store(tmp_path_factory):
    db, store, rows = open_stores(tmp_path_factory.mktemp("sessions"))
    yield store, rows
    db.close()


@pytest.fixture(scope="module")
def service(tmp_store, embedder):
    svc = SessionMemoryService(*tmp_store, encoder=embedder, counter=HFTokenCounter(embedder.tokenizer))
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def session(service):
    s = service.create_session("planning")
    for role, content in SMALL_TALK:
        service.append_message(s.id, role, content)
    for i in range(40):
        service.append_message(s.id, "user", f"Filler turn {i} about the weather being mild today.")
    return s


def test_messages_are_ordered_and_validated(service, session):
    msgs = service.messages(session.id)
    assert [m.seq for m in msgs] == list(range(46))
    assert msgs[2].content == SMALL_TALK[2][1]
    assert service.messages(session.id, since=44, limit=5)[0].seq == 44
    with pytest.raises(ValueError, match="role"):
        service.append_message(session.id, "robot", "hi")
    with pytest.raises(SessionNotFoundError):
        service.append_message("nope", "user", "hi")


def test_recall_search_finds_old_message(service, session):
    hits = service.recall_search(session.id, "flight UA-2231", k=3)
    assert hits[0].ref_id == 4 and "UA-2231" in hits[0].text
    hits = service.recall_search(session.id, "When is my dentist appointment?", k=3)
    assert 2 in [h.ref_id for h in hits]


def test_core_memory_pinned(service, session):
    service.set_core_memory(session.id, "name", "Ada")
    service.set_core_memory(session.id, "city", "Lisbon")
    service.set_core_memory(session.id, "city", "Porto")
    assert service.core_memory(session.id) == {"city": "Porto", "name": "Ada"}
    service.delete_core_memory(session.id, "name")
    with pytest.raises(MemoryNotFoundError):
        service.delete_core_memory(session.id, "name")
    assert service.core_memory(session.id) == {"city": "Porto"}


def test_archival_insert_and_search(service, session):
    service.archival_insert(session.id, "The user is allergic to peanuts.")
    service.archival_insert(session.id, "The user's favourite colour is teal.")
    hits = service.archival_search(session.id, "food allergies", k=1)
    assert hits[0].text == "The user is allergic to peanuts." and hits[0].tier == "archival"


def test_context_has_every_tier_within_budget(service, session):
    ctx = service.context(session.id, "What time does my sister's flight land?", budget=400)
    assert ctx.n_tokens <= 400
    assert ctx.core == {"city": "Porto"}
    text = ctx.text()
    assert "UA-2231" in text  # an old turn, retrieved as a block
    assert "Filler turn 39" in text  # the local window
    assert "Hi, can you help" in text  # the sink
    assert all(p.source.startswith("message:") for p in ctx.recall.pieces)
    assert ctx.to_dict()["text"] == text


def test_persistence_and_delete(tmp_store, embedder, service, session):
    service.close()
    again = SessionMemoryService(*tmp_store, encoder=embedder, counter=HFTokenCounter(embedder.tokenizer))
    assert again.get_session(session.id).name == "planning"
    assert again.recall_search(session.id, "flight UA-2231", k=1)[0].ref_id == 4
    other = again.create_session()
    again.delete_session(other.id)
    with pytest.raises(SessionNotFoundError):
        again.get_session(other.id)
