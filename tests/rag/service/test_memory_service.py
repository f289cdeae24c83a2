"""MemoryService over the real Store: a batch of messages is one transaction (all or none),
and a failed batch leaves no block of it in the session's in-RAM indexes."""

from __future__ import annotations

import sqlite3

import pytest

from rag.service.memory import MemoryService
from rag.settings import MemorySettings
from rag.storage.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def memory(tmp_path, embedder):
    store = Store(tmp_path / "ragmem.sqlite3").connect()
    service = MemoryService(store, tmp_path / "memory", embedder, MemorySettings()).open()
    yield service, store
    service.close()
    store.close()


def test_a_failed_batch_stores_nothing_and_leaves_no_phantom_blocks(memory) -> None:
    service, store = memory
    sid = service.create_session("batch")["id"]
    service.add_messages(sid, [("user", "Hello, I am planning a trip to Lisbon.")])
    with store.transaction() as conn:  # the second turn's row fails, after the first's blocks
        conn.execute("CREATE TRIGGER boom BEFORE INSERT ON memory_messages WHEN NEW.content"
                     " = 'boom' BEGIN SELECT RAISE(ABORT, 'write failed'); END")
    with pytest.raises(sqlite3.IntegrityError):
        service.add_messages(sid, [("user", "My locker code is 5521."), ("user", "boom")])
    with store.transaction() as conn:
        conn.execute("DROP TRIGGER boom")
    assert [m["seq"] for m in service.messages(sid)] == [0]
    assert service.get_session(sid)["counts"]["messages"] == 1

    later = service.add_messages(sid, [("assistant", "Lisbon is lovely in May.")])
    assert later[0]["seq"] == 1
    recall = service._sessions._memory(sid, "recall")
    assert {s.source for s in recall._spans} == {"message:0", "message:1"}  # no rolled-back block
    hits = service.recall_search(sid, "locker code 5521", k=5)
    assert all("5521" not in h["text"] for h in hits)
    assert "5521" not in service.context(sid, "What is my locker code?", budget=256).text()
