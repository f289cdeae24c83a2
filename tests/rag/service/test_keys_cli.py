"""`ragmem keys create|list|revoke` and the auth line `ragmem serve` prints at start."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli import app
from rag.service import keys
from rag.storage.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def ragmem(tmp_path):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [*args, "--data-dir", str(tmp_path)], catch_exceptions=False)

    return run


def test_keys_round_trip(ragmem, tmp_path) -> None:
    created = ragmem("keys", "create", "alice")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()  # the secret alone on stdout, the words on stderr
    assert secret.startswith("rgm_") and "shown only now" in created.stderr
    admin = json.loads(ragmem("keys", "create", "root", "--admin", "--json").stdout)
    assert admin["admin"] and admin["secret"].startswith("rgm_")

    listed = ragmem("keys", "list", "--json")
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["admin"], r["status"]) for r in rows] == [
        ("alice", False, "active"), ("root", True, "active")]
    assert secret not in listed.output and "secret" not in rows[0]
    assert secret not in ragmem("keys", "list").output
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ragmem.sqlite3*"))
    assert secret.encode() not in raw and admin["secret"].encode() not in raw

    store = Store(tmp_path / "ragmem.sqlite3").connect()
    assert keys.verify_key(store, secret).name == "alice"
    revoked = ragmem("keys", "revoke", "alice", "--json")
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["status"] == "revoked"
    with pytest.raises(keys.UnauthorizedError):
        keys.verify_key(store, secret)
    assert ragmem("keys", "revoke", str(admin["id"])).exit_code == 0
    assert keys.active_key_count(store) == 0
    store.close()


@pytest.mark.parametrize(("args", "code", "words"), [
    (("keys", "revoke", "nobody"), 3, "no api key"),
    (("keys", "create", "bad name"), 2, "invalid key name"),
])
def test_keys_errors(ragmem, args, code, words) -> None:
    result = ragmem(*args)
    assert result.exit_code == code and words in result.output.lower()


def test_keys_create_twice_is_a_conflict(ragmem) -> None:
    assert ragmem("keys", "create", "ci").exit_code == 0
    again = ragmem("keys", "create", "ci")
    assert again.exit_code == 2 and "already called 'ci'" in again.output


@pytest.mark.parametrize(("args", "line", "required"), [
    ((), "auth: off (loopback bind 127.0.0.1)", False),
    (("--host", "0.0.0.0"), "auth: on (non-loopback bind 0.0.0.0)", True),
    (("--host", "0.0.0.0", "--auth", "off"), "auth: off (auth.mode=off, bind 0.0.0.0)", False),
    (("--auth", "on"), "auth: on (auth.mode=on, bind 127.0.0.1)", True),
])
def test_serve_says_whether_auth_is_on(ragmem, monkeypatch, args, line, required) -> None:
    import uvicorn

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    result = ragmem("serve", *args)
    assert result.exit_code == 0, result.output
    assert line in result.stderr
    assert started["app"].state.auth_required is required


def test_serve_rejects_an_unknown_auth_mode(ragmem) -> None:
    result = ragmem("serve", "--auth", "maybe")
    assert result.exit_code == 2 and "--auth" in result.output


def test_keys_cli_uses_the_postgresql_store_of_the_settings(ragmem, tmp_path, pg_url, monkeypatch) -> None:
    monkeypatch.setenv("RAGMEM_STORE__URL", pg_url)
    created = ragmem("keys", "create", "alice", "--json")
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    store = Store(pg_url).connect()
    assert [k.name for k in keys.list_keys(store)] == ["alice"]
    assert keys.verify_key(store, record["secret"]).key_id == record["id"]
    store.close()
    assert not list(tmp_path.glob("ragmem.sqlite3*"))  # nothing written to the data dir's SQLite
