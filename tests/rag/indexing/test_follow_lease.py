"""The indexer election on a real PostgreSQL (issue 14): session advisory locks, one
holder per collection, released when the holder's process dies (kill -9), noticed
when the holder's session is cut."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from rag.storage.lock import AdvisoryLeases, HeldLease, indexer_lease, indexer_pid

pytestmark = pytest.mark.integration

HOLDER = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
assert conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (int(sys.argv[2]), 7)).fetchone()[0]
print("held", flush=True)
time.sleep(600)
"""


def leases(url: str) -> AdvisoryLeases:
    import psycopg

    return AdvisoryLeases(lambda: psycopg.connect(url, autocommit=True))


def test_one_holder_per_collection_until_released(pg_url) -> None:
    a, b = leases(pg_url), leases(pg_url)
    try:
        assert a.try_acquire(1) and a.held(1)
        assert a.try_acquire(1)  # idempotent for the holder
        assert not b.try_acquire(1) and not b.held(1)
        assert b.try_acquire(2) and not a.try_acquire(2)  # collections are independent
        a.release(1)
        assert not a.held(1) and b.try_acquire(1)
    finally:
        a.close()
        b.close()


def test_a_killed_holder_loses_the_collection_within_seconds(pg_url) -> None:
    from rag.storage.lock import ADVISORY_CLASS

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url, str(ADVISORY_CLASS)],
                              stdout=subprocess.PIPE, text=True)
    b = leases(pg_url)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not b.try_acquire(7)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        started = time.monotonic()
        while not b.try_acquire(7):  # a replica retries about every second
            assert time.monotonic() - started < 10, "the dead holder's lock was not dropped"
            time.sleep(0.1)
        assert time.monotonic() - started < 5
    finally:
        if holder.poll() is None:
            holder.kill()
        b.close()


def test_a_cut_session_is_noticed_and_the_lease_taken_again(pg_url) -> None:
    import psycopg

    a, b = leases(pg_url), leases(pg_url)
    try:
        assert a.try_acquire(3)
        pid = a._conn.info.backend_pid
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert not a.held(3)  # the server dropped its locks with the session
        assert b.try_acquire(3) and not a.try_acquire(3)  # a reconnects, B has it now
    finally:
        a.close()
        b.close()


def test_the_indexer_pid_is_read_from_the_server(pg_url) -> None:
    import psycopg

    class Pg:
        url = pg_url

    lease = indexer_lease(Pg())
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            assert indexer_pid(conn, 11) is None
            assert lease.try_acquire(11)
            assert indexer_pid(conn, 11) == os.getpid()
            lease.release(11)
            assert indexer_pid(conn, 11) is None
    finally:
        lease.close()


@pytest.mark.unit
def test_the_store_picks_the_lease() -> None:
    class Pg:
        url = "postgresql://u@127.0.0.1:1/db"

    class Lite:
        path = "/tmp/x.sqlite3"

    assert isinstance(indexer_lease(Pg()), AdvisoryLeases)
    assert isinstance(indexer_lease(Lite()), HeldLease)
