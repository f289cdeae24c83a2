"""The PostgreSQL backend of the store (psycopg 3 and its pool; the `postgres` extra).

The store's SQL is SQLite's; `PgConnection` runs it on a psycopg connection through
`dialect.to_postgres` and answers like sqlite3: rows with key and index access,
`lastrowid` (from RETURNING), `rowcount`, `in_transaction`. A connection comes from the
pool for one read, or for a whole transaction (held by the thread, so nested
transactions are savepoints of it and reads inside see its writes).

Concurrency: READ COMMITTED, so writers of one collection take a transaction-level
advisory lock (`lock_collection`): chunk ids and op seqs then grow in commit order,
which readers that follow the ops log (seq > applied) and mark_applied rely on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool, PoolTimeout

from rag.errors import StorageError
from rag.storage.dialect import to_postgres
from rag.storage.errors import IntegrityConflict
from rag.storage.pg_migrations import pg_migrate
from rag.storage.sqlite_backend import savepoint

WRITE_LOCK_CLASS = 0x72616777  # "ragw": one writer per collection at a time (xact locks)
NAME_LOCK_CLASS = 0x7261676E  # "ragn": one writer per named thing (a session's sequence)


class PgRow(tuple):
    """A row read by index (`r[0]`, unpacking) or by column name (`r["id"]`, `dict(r)`),
    like sqlite3.Row."""

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def keys(self) -> list[str]:
        return list(self._index)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)


def pg_row_factory(cursor: Any) -> Any:
    """psycopg row factory making PgRows (one name index per result)."""
    index = {c.name: i for i, c in enumerate(cursor.description or ())}
    return lambda values: PgRow(values, index)


class PgResult:
    """What `execute` returns: the rows fetched at once, `lastrowid`, `rowcount`."""

    def __init__(self, rows: list[PgRow], rowcount: int, lastrowid: int | None = None) -> None:
        self.rows, self.rowcount, self.lastrowid = rows, rowcount, lastrowid

    def fetchone(self) -> PgRow | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[PgRow]:
        return self.rows

    def __iter__(self) -> Iterator[PgRow]:
        return iter(self.rows)


def _mapped(exc: psycopg.Error) -> Exception:
    """A driver error as the store's: constraint -> IntegrityConflict (409), the server
    unreachable, full or out of resources -> StorageError (503)."""
    if isinstance(exc, psycopg.IntegrityError):
        return IntegrityConflict(str(exc).strip())
    if isinstance(exc, psycopg.OperationalError):
        return StorageError(f"the PostgreSQL store cannot be used ({str(exc).strip()})")
    return exc


class PgConnection:
    """A psycopg connection (autocommit; transactions are explicit) speaking the store's SQL."""

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgResult:
        statement, key = to_postgres(sql)
        try:
            cur = self.raw.execute(statement, tuple(params))
            rows = cur.fetchall() if cur.description is not None else []
        except psycopg.Error as exc:
            raise _mapped(exc) from exc
        if key is not None:  # INSERT ... RETURNING key: the caller sees no rows, as in sqlite3
            return PgResult([], cur.rowcount, rows[0][0] if rows else None)
        return PgResult(rows, cur.rowcount)

    def executemany(self, sql: str, seq_of_params: Sequence[Sequence[Any]]) -> PgResult:
        statement, _ = to_postgres(sql, returning=False)
        params = [tuple(p) for p in seq_of_params]
        if not params:
            return PgResult([], 0)
        try:
            with self.raw.cursor() as cur:
                cur.executemany(statement, params)
                return PgResult([], cur.rowcount)
        except psycopg.Error as exc:
            raise _mapped(exc) from exc


class PgBackend:
    """A PostgreSQL database at `url`, through a pool of at most `pool_size` connections."""

    name = "postgresql"
    skip_locked = " FOR UPDATE SKIP LOCKED"  # a claimed job row is skipped by other workers
    shared = True  # any number of replicas (rag/storage/lock.py elects the indexer)
    path = None

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        self.connect_timeout = 30.0  # seconds to reach the server (and to wait for a free connection)
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._local = threading.local()

    def _get_pool(self) -> ConnectionPool:
        with self._pool_lock:
            if self._pool is None:  # opened lazily and again after close()
                self._pool = ConnectionPool(
                    self.url, min_size=1, max_size=self.pool_size, timeout=self.connect_timeout,
                    open=False, check=ConnectionPool.check_connection,  # a restarted server
                    name="ragmem", kwargs={"autocommit": True, "row_factory": pg_row_factory,
                                           "application_name": "ragmem", "connect_timeout": 10})
                try:
                    self._pool.open(wait=True, timeout=self.connect_timeout)
                except PoolTimeout as exc:
                    self._pool.close()
                    self._pool = None
                    raise StorageError(f"cannot connect to the PostgreSQL store {_safe(self.url)}"
                                       f" within {self.connect_timeout:g} s ({exc})") from exc
            return self._pool

    @contextmanager
    def _checkout(self) -> Iterator[PgConnection]:
        held = getattr(self._local, "conn", None)
        if held is not None:  # inside this thread's transaction: its connection
            yield held
            return
        try:
            with self._get_pool().connection() as raw:
                yield PgConnection(raw)
        except PoolTimeout as exc:
            raise StorageError(f"no PostgreSQL connection free within {self.connect_timeout:g} s"
                               f" ({exc}): raise store.pool_size?") from exc
        except psycopg.OperationalError as exc:
            raise _mapped(exc) from exc

    def connect(self) -> None:
        """Create/migrate the schema (one process at a time)."""
        with self._checkout() as conn:
            try:
                pg_migrate(conn.raw)
            except psycopg.Error as exc:
                raise _mapped(exc) from exc

    def close(self) -> None:
        """Close the pool (a later use opens it again)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """BEGIN ... COMMIT on one pooled connection, rolled back on error; a SAVEPOINT when
        this thread is in a transaction already.

        Raises:
            StorageError: when the server cannot be reached or written (nothing committed).
        """
        held = getattr(self._local, "conn", None)
        if held is not None:
            with savepoint(held):
                yield held
            return
        with self._checkout() as conn:
            self._local.conn = conn
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                    conn.execute("COMMIT")
                finally:
                    if conn.in_transaction and not conn.raw.broken:
                        conn.raw.execute("ROLLBACK")
            finally:
                self._local.conn = None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[PgRow]:
        """Run a read query."""
        with self._checkout() as conn:
            return conn.execute(sql, params).fetchall()

    def lock_collection(self, conn: PgConnection, collection_id: int) -> None:
        """Serialize this collection's writers until the transaction ends."""
        conn.execute("SELECT pg_advisory_xact_lock(?, ?)", (WRITE_LOCK_CLASS, int(collection_id)))

    def lock_name(self, conn: PgConnection, name: str) -> None:
        """Serialize the writers of one named thing (a session's next seq) until the
        transaction ends; READ COMMITTED would let two read the same MAX + 1."""
        conn.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (NAME_LOCK_CLASS, name))

    def continue_identity(self, conn: PgConnection, table: str, column: str) -> None:
        """After rows were inserted with their ids: the next generated id follows the largest."""
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                     f" COALESCE(MAX({column}), 0) + 1, false) FROM {table}")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, user = head.partition("//")
    return f"{scheme}//{user.split(':', 1)[0]}:***@{tail}"
