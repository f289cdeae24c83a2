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
from dataclasses import dataclass

from rag.errors import (
    InvalidInputError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
)
from rag.storage import keys as key_rows
from rag.storage.keys import (  # the ownership rows, part of this module's interface
    ApiKey,
    active_key_count,
    forget_session,
    session_owner,
    session_owners,
    set_session_owner,
)
from rag.storage.store import Store

__all__ = ["ApiKey", "Principal", "active_key_count", "check_job_quota", "create_key",
           "decide_auth", "forget_session", "list_keys", "revoke_key", "session_owner",
           "session_owners", "set_session_owner", "verify_key"]

TOKEN_PREFIX = "rgm_"
DISPLAY_CHARS = 12  # "rgm_" + 8 characters: enough to tell keys apart, useless to guess
KEY_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.@-]{0,63}$")
AUTH_MODES = ("auto", "on", "off")
JOB_RETRY_AFTER_S = 5


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
    key_id = key_rows.insert_key(store, name, prefix=secret[:DISPLAY_CHARS],
                                 secret_sha256=hash_secret(secret), admin=admin)
    return key_rows.key_by_id(store, key_id), secret


def list_keys(store: Store) -> list[ApiKey]:
    """Every key, revoked ones too, oldest first."""
    return key_rows.all_keys(store)


def revoke_key(store: Store, ref: str) -> ApiKey:
    """Revoke a key named by id (digits) or by the name of an active key; revoking a
    revoked key changes nothing.

    Raises:
        NotFoundError: when no key matches.
    """
    found = (key_rows.find_key(store, key_id=int(ref)) if ref.isdigit()
             else key_rows.find_key(store, active_name=ref))
    if found is None:
        raise NotFoundError(f"no API key {ref!r}")
    if found.revoked_at is None:
        key_rows.revoke(store, found.id)
    return key_rows.key_by_id(store, found.id)


def verify_key(store: Store, secret: str) -> Principal:
    """The principal a secret stands for.

    Raises:
        UnauthorizedError: for an unknown or revoked key.
    """
    digest = hash_secret(secret)
    for key, stored in key_rows.keys_with_prefix(store, secret[:DISPLAY_CHARS]):
        if hmac.compare_digest(stored, digest):
            if key.revoked_at is not None:
                raise UnauthorizedError("this API key has been revoked")
            return Principal(key_id=key.id, name=key.name, admin=key.admin)
    raise UnauthorizedError("invalid API key")


def check_job_quota(store: Store, owner_key_id: int | None, limit: int) -> None:
    """Refuse a new job while `owner_key_id` has `limit` jobs queued or running (a NULL
    owner, auth off or an ownerless collection, is not limited).

    Raises:
        TooManyRequestsError: at the limit.
    """
    if owner_key_id is None:
        return
    active = key_rows.active_job_count(store, owner_key_id)
    if active >= limit:
        raise TooManyRequestsError(f"{active} jobs are queued or running for this key (the "
                                   f"limit is {limit}); retry when one has finished",
                                   retry_after=JOB_RETRY_AFTER_S)
