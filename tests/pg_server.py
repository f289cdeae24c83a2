"""A throwaway PostgreSQL 15 for tests: initdb + pg_ctl in a temp dir, on 127.0.0.1.

We run as root and PostgreSQL refuses to run as root, so the server runs as the
unprivileged `postgres` user (runuser). One server per test session (initdb costs ~1 s);
each test gets a fresh database (CREATE DATABASE ... TEMPLATE template0, ~0.15 s).

Use the fixtures (registered in tests/conftest.py):
    pg_server  -- session: the running PgServer (skips LOUDLY when it cannot start)
    pg_url     -- function: a postgresql:// URL to a fresh, empty database

Where PostgreSQL is not installed or does not start, the tests that need it skip with
the exact cause (`make install` installs Debian's postgresql where apt-get exists).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PG_BIN_DIRS = ("/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
               "/usr/lib/postgresql/17/bin", "/usr/bin")
PG_USER = "postgres"


def find_pg_binary(name: str) -> str | None:
    """initdb/pg_ctl are not on PATH on Debian (they live in /usr/lib/postgresql/N/bin)."""
    for d in PG_BIN_DIRS:
        p = Path(d) / name
        if p.exists() and os.access(p, os.X_OK):
            return str(p)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_pg_user(cmd: list[str]) -> list[str]:
    """Root cannot run postgres; drop to the postgres user. Non-root runs it directly."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", PG_USER, "--", *cmd]
    return ["su", PG_USER, "-s", "/bin/sh", "-c", " ".join(cmd)]


@dataclass
class PgServer:
    """One running PostgreSQL cluster; `stop()` is idempotent."""

    root: Path
    port: int
    pg_ctl: str
    running: bool = False
    _store_url: str | None = None
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def store_database(self) -> str:
        """The session's migrated store database, emptied (TRUNCATE ... RESTART IDENTITY):
        a fresh store for a tenth of CREATE DATABASE + migrations on a busy machine."""
        import psycopg

        from rag.storage.store import Store

        if self._store_url is None:
            self._store_url = self.create_database("store")
            Store(self._store_url).connect().close()
        with psycopg.connect(self._store_url, autocommit=True) as conn:
            # connections a previous test left open (an unclosed pool) would hold locks
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                         " datname = current_database() AND pid <> pg_backend_pid()")
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'ragmem_schema'")]
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        return self._store_url

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        try:
            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error:
            pass  # the server may be going down; the whole cluster is deleted after

    def restart(self) -> None:
        """Restart the server in place (same port): every open connection breaks."""
        # -l again: without it the new postmaster keeps our output pipes open (run() would hang)
        r = subprocess.run(_as_pg_user([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w",
                                        "-l", str(self.root / "server.log"), "restart"]),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {r.stderr.strip()[-400:]}")

    def stop(self) -> None:
        if self.running:
            self.running = False
            subprocess.run(_as_pg_user([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"]),
                           capture_output=True, timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def start_pg_server() -> PgServer:
    """Start a cluster or raise RuntimeError with the exact cause."""
    initdb, pg_ctl = find_pg_binary("initdb"), find_pg_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError(f"PostgreSQL binaries not found (initdb={initdb}, pg_ctl={pg_ctl}; looked in "
                           f"{', '.join(PG_BIN_DIRS)} and PATH): `make install` installs Debian's postgresql")
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"psycopg is not installed ({exc}): pip install -e '.[test]'") from exc
    root = Path(tempfile.mkdtemp(prefix="ragmem-pg-"))
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        shutil.chown(root, PG_USER)
    server = PgServer(root=root, port=_free_port(), pg_ctl=pg_ctl)
    try:
        # trust auth on loopback only: a throwaway cluster; --no-sync as nothing must survive.
        r = subprocess.run(_as_pg_user([initdb, "-D", str(server.data), "-A", "trust", "-U", PG_USER,
                                        "-E", "UTF8", "--no-sync", "--locale=C"]),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed (rc {r.returncode}): {r.stderr.strip()[-800:]}")
        # -F: no fsync (tests); -k: the unix socket in our temp dir, not /var/run/postgresql.
        opts = f"-h 127.0.0.1 -p {server.port} -k {root} -F -c max_connections=200"
        r = subprocess.run(_as_pg_user([pg_ctl, "-D", str(server.data), "-o", opts,
                                        "-l", str(root / "server.log"), "-w", "-t", "60", "start"]),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            log_file = root / "server.log"
            log = log_file.read_text(errors="replace")[-800:] if log_file.exists() else ""
            raise RuntimeError(f"pg_ctl start failed (rc {r.returncode}): {r.stderr.strip()[-400:]} {log}")
        server.running = True
    except (OSError, subprocess.TimeoutExpired, RuntimeError) as exc:
        server.stop()
        if isinstance(exc, RuntimeError):
            raise
        raise RuntimeError(f"could not run PostgreSQL: {exc}") from exc
    atexit.register(server.stop)
    return server


_SERVER: PgServer | None = None
_SERVER_ERROR: str | None = None


def session_server() -> PgServer:
    """The session's server, started once; pytest.skip (loud, exact cause) where it cannot start."""
    global _SERVER, _SERVER_ERROR  # noqa: PLW0603 - one cluster per test session
    if _SERVER is None and _SERVER_ERROR is None:
        try:
            _SERVER = start_pg_server()
        except RuntimeError as exc:
            _SERVER_ERROR = str(exc)
    if _SERVER is None:
        pytest.skip(f"POSTGRESQL UNAVAILABLE, test skipped: {_SERVER_ERROR}")
    return _SERVER


@pytest.fixture(scope="session")
def pg_server():
    server = session_server()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request, tmp_path):
    """A store location on each backend: the SQLite file in tmp_path, then an empty,
    migrated PostgreSQL store (the storage contract runs on both)."""
    if request.param == "sqlite":
        return tmp_path / "ragmem.sqlite3"
    return request.getfixturevalue("pg_server").store_database()
