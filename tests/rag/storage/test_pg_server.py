"""The throwaway PostgreSQL the store tests run on (tests/pg_server.py)."""

from __future__ import annotations

import psycopg
import pytest

from tests import pg_server as pgs


def test_fresh_database_per_test_is_empty_and_writable(pg_url, pg_server):
    assert pg_url != pg_server.url()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
        conn.execute("CREATE TABLE t (x int)")
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"


def test_missing_binaries_raise_the_exact_cause(monkeypatch):
    monkeypatch.setattr(pgs, "PG_BIN_DIRS", ("/nonexistent",))
    monkeypatch.setattr(pgs.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="PostgreSQL binaries not found"):
        pgs.start_pg_server()
