"""Who may write: the data dir's flock (SQLite) and the indexer election (replicas).

SQLite: one ragmem process per data dir, an exclusive `flock` on
`<data_dir>/ragmem.lock`. The lock file holds the owner's pid, so a second opener can
say who has the dir. The kernel drops the lock when its process ends, even by SIGKILL,
so a crash never leaves a stale lock behind. `flock` is advisory and local: it does not
guard a data dir shared over NFS by two machines.

Replicas (PostgreSQL): any number of processes share the database and one index dir;
per collection exactly one of them indexes (writes segments and manifests), the holder
of its `IndexerLease`. `HeldLease` is SQLite's: the flock already makes the process the
only one, so it always indexes. `AdvisoryLeases` takes `pg_try_advisory_lock(CLASS,
collection id)` on one dedicated session connection: the lock lives as long as that
session, so when its process dies (even by kill -9) the server drops it as the socket
closes, and another replica's next try (about every second) takes the collection over.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from rag.errors import DataDirLockedError

log = logging.getLogger(__name__)

LOCK_NAME = "ragmem.lock"
ADVISORY_CLASS = 0x7261676D  # "ragm": the first key of every ragmem advisory lock
INDEXER_APP = "ragmem-indexer"  # application_name of the lease session, then the pid


class DataDirLock:
    """The exclusive lock on one data dir; `acquire` and `release` are idempotent."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._file is not None

    def acquire(self) -> DataDirLock:
        """Take the lock (creating the dir and the file) and write this process's pid.

        Raises:
            DataDirLockedError: when another process (or another opener in this one)
                holds it.
        """
        if self._file is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 - kept open: the open file holds the lock
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read(32).decode("ascii", "replace").strip() or "unknown"
            handle.close()
            raise DataDirLockedError(f"data dir {self.path.parent} is in use by another ragmem "
                                     f"process (pid {owner})") from None
        except OSError:
            handle.close()
            raise
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        """Let the lock go (closing the file drops it)."""
        handle, self._file = self._file, None
        if handle is not None:
            handle.close()


class IndexerLease(Protocol):
    """The right to index collections; one holder per collection at a time."""

    def try_acquire(self, collection_id: int) -> bool:
        """Take the collection if nobody holds it; True when this process holds it now."""
        ...

    def held(self, collection_id: int) -> bool:
        """True while this process holds the collection (False once the lease is lost)."""
        ...

    def release(self, collection_id: int) -> None:
        """Give the collection up (idempotent)."""
        ...

    def close(self) -> None:
        """Give every collection up."""
        ...


class HeldLease:
    """SQLite's lease: the data dir's flock makes this process the only one, so it
    indexes every collection (today's behaviour)."""

    def try_acquire(self, collection_id: int) -> bool:
        return True

    def held(self, collection_id: int) -> bool:
        return True

    def release(self, collection_id: int) -> None:
        return None

    def close(self) -> None:
        return None


class AdvisoryLeases:
    """PostgreSQL session advisory locks, one per collection, on one connection.

    Args:
        connect: opens the dedicated session (autocommit); called again after the
            connection broke (every lock it held is gone then: the server dropped them).
    """

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._conn: Any = None
        self._held: set[int] = set()
        self._lock = threading.Lock()

    def _session(self) -> Any:
        if self._conn is None or self._conn.closed or getattr(self._conn, "broken", False):
            if self._held:
                log.warning("indexer lease connection lost: collections %s given up",
                            sorted(self._held))
            self._held.clear()
            self._conn = self._connect()
        return self._conn

    def _call(self, sql: str, collection_id: int) -> Any:
        try:
            return self._session().execute(sql, (ADVISORY_CLASS, collection_id)).fetchone()[0]
        except Exception:  # a dropped connection: every lock went with it
            self._drop()
            raise

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._held.clear()
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: S110 - closing a broken connection may fail too
                pass

    def try_acquire(self, collection_id: int) -> bool:
        with self._lock:
            if collection_id in self._held and self._alive():
                return True
            try:
                got = bool(self._call("SELECT pg_try_advisory_lock(%s, %s)", collection_id))
            except Exception as exc:
                log.warning("indexer lease for collection %d not taken: %s", collection_id, exc)
                return False
            if got:
                self._held.add(collection_id)
            return got

    def _alive(self) -> bool:
        """The session still answers (so the server still holds its locks)."""
        try:
            self._session().execute("SELECT 1").fetchone()
            return True
        except Exception:
            self._drop()
            return False

    def held(self, collection_id: int) -> bool:
        with self._lock:
            return collection_id in self._held and self._alive()

    def release(self, collection_id: int) -> None:
        with self._lock:
            if collection_id in self._held:
                self._held.discard(collection_id)
                try:
                    self._call("SELECT pg_advisory_unlock(%s, %s)", collection_id)
                except Exception:  # noqa: S110 - the lock went with the connection
                    pass

    def close(self) -> None:
        with self._lock:
            self._drop()


def indexer_lease(store: Any) -> IndexerLease:
    """The election for `store`: advisory locks on the PostgreSQL database it opens (a
    session of its own), else `HeldLease` (SQLite: the data dir's flock decides)."""
    url = str(getattr(store, "url", "") or "")
    if not url.startswith(("postgresql://", "postgres://")):
        return HeldLease()

    def connect() -> Any:
        import psycopg  # the PostgreSQL driver, only for a PostgreSQL store

        # named, so `pg_stat_activity` joined with `pg_locks` shows which process indexes
        return psycopg.connect(url, autocommit=True, connect_timeout=10,
                               application_name=f"{INDEXER_APP} {os.getpid()}")

    return AdvisoryLeases(connect)


def indexer_pid(conn: Any, collection_id: int) -> int | None:
    """The pid of the ragmem process that indexes a collection (its lease session's
    `application_name`), None when no process holds it; `conn`: any PostgreSQL session."""
    row = conn.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
        " AND l.classid::bigint = %s AND l.objid::bigint = %s",
        (ADVISORY_CLASS, collection_id)).fetchone()
    if row is None or not str(row[0]).startswith(INDEXER_APP):
        return None
    return int(str(row[0]).rsplit(" ", 1)[1])
