"""API keys and ownership rows: `api_keys`, `session_owners`, and the jobs a key has open.

The rules (who may see what, how secrets are made and checked) live in `rag/service/keys.py`;
this module only reads and writes the rows.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from rag.errors import ConflictError
from rag.storage.errors import INTEGRITY_ERRORS
from rag.storage.store import Store

_COLUMNS = "id, name, prefix, admin, created, revoked_at"


@dataclass(frozen=True)
class ApiKey:
    """A key's record (never its secret)."""

    id: int
    name: str
    prefix: str
    admin: bool
    created: float
    revoked_at: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict, with `status` active or revoked."""
        return asdict(self) | {"status": "revoked" if self.revoked_at else "active"}


def _keys(store: Store, where: str, params: tuple[Any, ...]) -> list[ApiKey]:
    rows = store.query(f"SELECT {_COLUMNS} FROM api_keys WHERE {where} ORDER BY id", params)
    return [ApiKey(**{**dict(r), "admin": bool(r["admin"])}) for r in rows]


def insert_key(store: Store, name: str, *, prefix: str, secret_sha256: str, admin: bool) -> int:
    """A new key's id.

    Raises:
        ConflictError: when an active key has the name.
    """
    try:
        with store.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO api_keys(name, prefix, secret_sha256, admin, created)"
                " VALUES (?,?,?,?,?)", (name, prefix, secret_sha256, int(admin), time.time()))
    except INTEGRITY_ERRORS as exc:
        raise ConflictError(f"an active key is already called {name!r}") from exc
    return int(cursor.lastrowid)


def key_by_id(store: Store, key_id: int) -> ApiKey:
    """The key with this id (it exists)."""
    return _keys(store, "id=?", (key_id,))[0]


def all_keys(store: Store) -> list[ApiKey]:
    """Every key, revoked ones too, oldest first."""
    return _keys(store, "1=1", ())


def find_key(store: Store, *, key_id: int | None = None, active_name: str | None = None,
             ) -> ApiKey | None:
    """The key with `key_id`, or the active key called `active_name`; None when none."""
    found = (_keys(store, "id=?", (key_id,)) if key_id is not None
             else _keys(store, "name=? AND revoked_at IS NULL", (active_name,)))
    return found[0] if found else None


def revoke(store: Store, key_id: int) -> None:
    """Mark a key revoked now."""
    with store.transaction() as conn:
        conn.execute("UPDATE api_keys SET revoked_at=? WHERE id=?", (time.time(), key_id))


def keys_with_prefix(store: Store, prefix: str) -> list[tuple[ApiKey, str]]:
    """The keys whose secret starts with `prefix`, each with its stored SHA-256."""
    rows = store.query(f"SELECT {_COLUMNS}, secret_sha256 FROM api_keys WHERE prefix=?",
                       (prefix,))
    return [(ApiKey(r["id"], r["name"], r["prefix"], bool(r["admin"]), r["created"],
                    r["revoked_at"]), r["secret_sha256"]) for r in rows]


def active_key_count(store: Store) -> int:
    """How many keys are not revoked."""
    return int(store.query("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")[0][0])


def active_job_count(store: Store, owner_key_id: int) -> int:
    """Jobs queued or running for a key."""
    return int(store.query("SELECT COUNT(*) FROM jobs WHERE owner_key_id=? AND status IN"
                           " ('queued','running')", (owner_key_id,))[0][0])


# -- sessions (their rows live in memory/; ownership is kept here) -----------------------
def set_session_owner(store: Store, session_id: str, owner_key_id: int | None) -> None:
    """Record the key that created a session (nothing for anonymous callers)."""
    if owner_key_id is not None:
        with store.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO session_owners(session_id, owner_key_id)"
                         " VALUES (?,?)", (session_id, owner_key_id))


def session_owners(store: Store) -> dict[str, int]:
    """Session id -> owning key id, for every session that has one."""
    return {r["session_id"]: r["owner_key_id"]
            for r in store.query("SELECT session_id, owner_key_id FROM session_owners")}


def session_owner(store: Store, session_id: str) -> int | None:
    """The key that owns a session (None: made with auth off)."""
    rows = store.query("SELECT owner_key_id FROM session_owners WHERE session_id=?",
                       (session_id,))
    return rows[0]["owner_key_id"] if rows else None


def forget_session(store: Store, session_id: str) -> None:
    """Drop a deleted session's owner row."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM session_owners WHERE session_id=?", (session_id,))
