"""rag/service/keys.py: the auth decision, API keys hashed at rest, ownership rules, job quota."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from rag.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
)
from rag.service import keys
from rag.storage.migrations import MIGRATIONS
from rag.storage.store import Store

pytestmark = pytest.mark.unit


@pytest.fixture
def store(store_location) -> Store:
    opened = Store(store_location).connect()
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("mode", "host", "required", "line"),
    [
        ("auto", "127.0.0.1", False, "off (loopback bind 127.0.0.1)"),
        ("auto", "127.0.1.1", False, "off (loopback bind 127.0.1.1)"),
        ("auto", "::1", False, "off (loopback bind ::1)"),
        ("auto", "[::1]", False, "off (loopback bind [::1])"),
        ("auto", "localhost", False, "off (loopback bind localhost)"),
        ("auto", "0.0.0.0", True, "on (non-loopback bind 0.0.0.0)"),
        ("auto", "::", True, "on (non-loopback bind ::)"),
        ("auto", "192.168.1.20", True, "on (non-loopback bind 192.168.1.20)"),
        ("auto", "myhost.example", True, "on (non-loopback bind myhost.example)"),
        ("on", "127.0.0.1", True, "on (auth.mode=on, bind 127.0.0.1)"),
        ("off", "0.0.0.0", False, "off (auth.mode=off, bind 0.0.0.0)"),
    ],
)
def test_decide_auth(mode, host, required, line) -> None:
    decision = keys.decide_auth(mode, host)
    assert decision.required is required
    assert decision.describe() == line


def test_decide_auth_rejects_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="sometimes"):
        keys.decide_auth("sometimes", "0.0.0.0")


def test_keys_are_hashed_at_rest(tmp_path) -> None:
    store = Store(tmp_path / "ragmem.sqlite3").connect()  # reads the file's bytes: SQLite
    record, secret = keys.create_key(store, "alice")
    assert secret.startswith("rgm_") and len(secret) >= 40
    assert record.prefix == secret[:12] and not record.admin
    stored = store.query("SELECT secret_sha256 FROM api_keys")[0][0]
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ragmem.sqlite3*"))
    assert secret.encode() not in raw and secret[12:].encode() not in raw
    assert stored.encode() in raw


def test_verify_and_revoke(store) -> None:
    alice, secret = keys.create_key(store, "alice")
    root, root_secret = keys.create_key(store, "root", admin=True)
    assert keys.verify_key(store, secret) == keys.Principal(alice.id, "alice", False)
    assert keys.verify_key(store, root_secret).admin
    for wrong in (secret[:-1] + ("A" if secret[-1] != "A" else "B"), "rgm_", "", "x" * 500):
        with pytest.raises(UnauthorizedError, match="invalid"):
            keys.verify_key(store, wrong)
    assert keys.revoke_key(store, "alice").revoked_at is not None
    with pytest.raises(UnauthorizedError, match="revoked"):
        keys.verify_key(store, secret)
    assert keys.verify_key(store, root_secret).key_id == root.id
    assert keys.active_key_count(store) == 1


def test_names_ids_and_reuse(store) -> None:
    first, _ = keys.create_key(store, "ci")
    with pytest.raises(ConflictError):
        keys.create_key(store, "ci")
    for bad in ("", "7up", "has space", "x" * 65):
        with pytest.raises(InvalidInputError):
            keys.create_key(store, bad)
    keys.revoke_key(store, str(first.id))
    again = keys.revoke_key(store, str(first.id))  # revoking twice changes nothing
    assert again.revoked_at == keys.list_keys(store)[0].revoked_at
    second, _ = keys.create_key(store, "ci")  # a revoked key's name is free again
    assert [(k.id, k.to_dict()["status"]) for k in keys.list_keys(store)] == [
        (first.id, "revoked"), (second.id, "active")]
    with pytest.raises(NotFoundError):
        keys.revoke_key(store, "nobody")
    with pytest.raises(NotFoundError):
        keys.revoke_key(store, "999")


def test_who_sees_what() -> None:
    alice, admin = keys.Principal(1, "alice"), keys.Principal(2, "root", admin=True)
    assert alice.can_see(1) and not alice.can_see(3) and not alice.can_see(None)
    assert admin.can_see(1) and admin.can_see(None)
    assert keys.ANONYMOUS.can_see(1) and keys.ANONYMOUS.can_see(None)


def test_job_quota_counts_queued_and_running_jobs_of_one_key(store) -> None:
    alice, _ = keys.create_key(store, "alice")
    mine = store.create_collection("mine", embedder="e", dim=3, owner_key_id=alice.id)
    jobs = [store.create_job(mine, kind="index", total=0) for _ in range(2)]
    store.update_job(jobs[0], status="running")
    keys.check_job_quota(store, None, 1)  # ownerless: not limited
    keys.check_job_quota(store, alice.id + 1, 1)
    with pytest.raises(TooManyRequestsError) as raised:
        keys.check_job_quota(store, alice.id, 2)
    assert raised.value.retry_after > 0
    store.update_job(jobs[1], status="done")
    keys.check_job_quota(store, alice.id, 2)


def test_session_owners(store) -> None:
    keys.set_session_owner(store, "s1", 4)
    keys.set_session_owner(store, "s2", None)  # anonymous: no row
    assert keys.session_owners(store) == {"s1": 4}
    assert keys.session_owner(store, "s1") == 4 and keys.session_owner(store, "s2") is None
    keys.forget_session(store, "s1")
    assert keys.session_owners(store) == {}


def test_v2_database_gains_owners(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for version, script in enumerate(MIGRATIONS[:2], start=1):
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version={version}")
    conn.execute("INSERT INTO collections(name, embedder, dim, created) VALUES ('old', 'e', 3, 0)")
    conn.close()
    store = Store(path).connect()
    assert store.get_collection("old").owner_key_id is None
    assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    store.close()
