"""API keys and ownership (issue 8): who is calling, and what they may see.

A key's secret is `rgm_` + 32 random bytes (URL-safe base64). Only its SHA-256 is stored:
the secret is high-entropy, so a slow password KDF would add nothing; it is compared with
`hmac.compare_digest`. `prefix` (the first 12 characters) names a key in listings.

Collections, jobs and sessions carry the id of the key that owns them. An admin key sees
everything; another key sees only what it owns; a NULL owner (made with auth off, or
before schema v3) is visible to admin keys only. With auth off every caller is the
anonymous principal, which sees everything.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import sqlite3
import time
from dataclasses import asdict, dataclass
from typing import Any

from rag.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
)
from rag.storage.store import Store

TOKEN_PREFIX = "rgm_"
DISPLAY_CHARS = 12  # "rgm_" + 8 characters: enough to tell keys apart, useless to guess
KEY_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.@-]{0,63}$")
AUTH_MODES = ("auto", "on", "off")
JOB_RETRY_AFTER_S = 5


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


@dataclass(frozen=True)
class Principal:
    """The caller: a key, or anonymous (`key_id` None) when auth is off."""

    key_id: int | None = None
    name: str = "anonymous"
    admin: bool = False

    def can_see(self, owner_key_id: int | None) -> bool:
        """True when the caller may read and change what `owner_key_id` owns."""
        return self.key_id is None or self.admin or owner_key_id == self.key_id


ANONYMOUS = Principal()


@dataclass(frozen=True)
class AuthDecision:
    """Whether the API asks for a key, and why (for the start-up log)."""

    required: bool
    reason: str

    def describe(self) -> str:
        """`on (non-loopback bind 0.0.0.0)`, `off (loopback bind 127.0.0.1)`, ..."""
        return f"{'on' if self.required else 'off'} ({self.reason})"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; any other host, or all interfaces
    (0.0.0.0, ::, ""), is reachable from elsewhere."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def decide_auth(mode: str, host: str) -> AuthDecision:
    """Auth for a server bound to `host`: `auto` is on unless the bind is loopback.

    Raises:
        ValueError: for a mode other than auto, on or off.
    """
    if mode not in AUTH_MODES:
        raise ValueError(f"auth mode must be one of {AUTH_MODES}, got {mode!r}")
    if mode != "auto":
        return AuthDecision(mode == "on", f"auth.mode={mode}, bind {host}")
    if is_loopback(host):
        return AuthDecision(False, f"loopback bind {host}")
    return AuthDecision(True, f"non-loopback bind {host}")


def hash_secret(secret: str) -> str:
    """The stored form of a secret: SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(store: Store, name: str, *, admin: bool = False) -> tuple[ApiKey, str]:
    """Create a key; returns its record and the secret (shown once, never stored).

    Raises:
        InvalidInputError: for a bad name. ConflictError: when an active key has the name.
    """
    if not isinstance(name, str) or not KEY_NAME_RE.fullmatch(name):
        raise InvalidInputError(f"invalid key name {name!r}: use 1-64 letters, digits, "
                                "'_', '.', '@' or '-', starting with a letter")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with store.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO api_keys(name, prefix, secret_sha256, admin, created)"
                " VALUES (?,?,?,?,?)",
                (name, secret[:DISPLAY_CHARS], hash_secret(secret), int(admin), time.time()))
    except sqlite3.IntegrityError as exc:
        raise ConflictError(f"an active key is already called {name!r}") from exc
    return _key(store, "id=?", (cursor.lastrowid,))[0], secret


def list_keys(store: Store) -> list[ApiKey]:
    """Every key, revoked ones too, oldest first."""
    return _key(store, "1", ())


def revoke_key(store: Store, ref: str) -> ApiKey:
    """Revoke a key named by id (digits) or by the name of an active key; revoking a
    revoked key changes nothing.

    Raises:
        NotFoundError: when no key matches.
    """
    found = (_key(store, "id=?", (int(ref),)) if ref.isdigit()
             else _key(store, "name=? AND revoked_at IS NULL", (ref,)))
    if not found:
        raise NotFoundError(f"no API key {ref!r}")
    if found[0].revoked_at is None:
        with store.transaction() as conn:
            conn.execute("UPDATE api_keys SET revoked_at=? WHERE id=?", (time.time(), found[0].id))
    return _key(store, "id=?", (found[0].id,))[0]


def verify_key(store: Store, secret: str) -> Principal:
    """The principal a secret stands for.

    Raises:
        UnauthorizedError: for an unknown or revoked key.
    """
    digest = hash_secret(secret)
    rows = store.query("SELECT id, name, admin, revoked_at, secret_sha256 FROM api_keys"
                       " WHERE prefix=?", (secret[:DISPLAY_CHARS],))
    for row in rows:
        if hmac.compare_digest(row["secret_sha256"], digest):
            if row["revoked_at"] is not None:
                raise UnauthorizedError("this API key has been revoked")
            return Principal(key_id=row["id"], name=row["name"], admin=bool(row["admin"]))
    raise UnauthorizedError("invalid API key")


def active_key_count(store: Store) -> int:
    """How many keys are not revoked."""
    return store.query("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")[0][0]


def check_job_quota(store: Store, owner_key_id: int | None, limit: int) -> None:
    """Refuse a new job while `owner_key_id` has `limit` jobs queued or running (a NULL
    owner, auth off or an ownerless collection, is not limited).

    Raises:
        TooManyRequestsError: at the limit.
    """
    if owner_key_id is None:
        return
    active = store.query("SELECT COUNT(*) FROM jobs WHERE owner_key_id=? AND status IN"
                         " ('queued','running')", (owner_key_id,))[0][0]
    if active >= limit:
        raise TooManyRequestsError(f"{active} jobs are queued or running for this key (the "
                                   f"limit is {limit}); retry when one has finished",
                                   retry_after=JOB_RETRY_AFTER_S)


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


def _key(store: Store, where: str, params: tuple[Any, ...]) -> list[ApiKey]:
    rows = store.query("SELECT id, name, prefix, admin, created, revoked_at FROM api_keys"
                       f" WHERE {where} ORDER BY id", params)
    return [ApiKey(**{**dict(r), "admin": bool(r["admin"])}) for r in rows]
