"""The SQLite backend of the store: one connection per thread, WAL, synchronous=FULL.

A write transaction is BEGIN IMMEDIATE ... COMMIT (SQLite has one writer at a time, so
writes of a collection are serialized already); a transaction inside another one of the
same thread is a SAVEPOINT of it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rag.errors import StorageError
from rag.storage.migrations import migrate

_STORAGE_FAILURE = re.compile(r"disk is full|disk I/O error|unable to open database file", re.I)


class SqliteBackend:
    """The database file at `path`."""

    name = "sqlite"
    skip_locked = ""  # BEGIN IMMEDIATE already gives a claim to one writer
    shared = False  # one process per data dir (the data dir's flock)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._local = threading.local()

    def connect(self) -> None:
        """Create the database if needed and apply migrations."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        migrate(self.conn())

    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on error; a SAVEPOINT when nested.

        Raises:
            StorageError: when the disk is full or cannot be written (nothing is committed).
        """
        conn = self.conn()
        if conn.in_transaction:
            with savepoint(conn):
                yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:  # an error, a failed COMMIT included (SQLite may
                    conn.execute("ROLLBACK")  # have rolled back already on a full disk)
        except sqlite3.OperationalError as exc:
            if not _STORAGE_FAILURE.search(str(exc)):
                raise
            raise StorageError(f"the data dir cannot be written ({exc}): is the disk full?") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a read query."""
        return self.conn().execute(sql, params).fetchall()

    def lock_collection(self, conn: sqlite3.Connection, collection_id: int) -> None:
        """Nothing to do: BEGIN IMMEDIATE holds SQLite's one write lock already."""

    def lock_name(self, conn: sqlite3.Connection, name: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE holds SQLite's one write lock already."""

    def continue_identity(self, conn: sqlite3.Connection, table: str, column: str) -> None:
        """Nothing to do: AUTOINCREMENT keeps the largest id ever inserted (sqlite_sequence)."""


@contextmanager
def savepoint(conn: Any) -> Iterator[None]:
    """A nested transaction: released into the outer one, or rolled back to its start."""
    name = f"sp_{uuid.uuid4().hex[:12]}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
        conn.execute(f"RELEASE SAVEPOINT {name}")
        raise
    conn.execute(f"RELEASE SAVEPOINT {name}")
