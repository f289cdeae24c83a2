"""Which database a store opens: a SQLite file (the embedded default) or PostgreSQL.

`store.url` in the settings (RAGMEM_STORE__URL) picks it: empty means the SQLite file
in the data dir; `sqlite:///path` a SQLite file elsewhere; `postgresql://...` (or
`postgres://...`) a PostgreSQL server (rag/storage/pg_backend.py, the `postgres` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from rag.errors import InvalidInputError

PG_SCHEMES = ("postgresql://", "postgres://")
SQLITE_FILE = "ragmem.sqlite3"


class Backend(Protocol):
    """What the store needs of a database (sqlite_backend.py, pg_backend.py)."""

    name: str  # "sqlite" or "postgresql"
    url: str
    path: Path | None  # the SQLite file (None for PostgreSQL)
    skip_locked: str  # appended to a claim's SELECT: rows another transaction holds are skipped
    shared: bool  # several processes may open it at once (no data-dir flock)

    def connect(self) -> None: ...

    def close(self) -> None: ...

    def transaction(self) -> AbstractContextManager[Any]: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

    def lock_collection(self, conn: Any, collection_id: int) -> None: ...

    def lock_name(self, conn: Any, name: str) -> None: ...

    def continue_identity(self, conn: Any, table: str, column: str) -> None: ...


def is_postgres_url(url: str | Path | None) -> bool:
    """True for a postgresql:// or postgres:// URL."""
    return isinstance(url, str) and url.startswith(PG_SCHEMES)


def store_location(url: str | None, data_dir: Path) -> str | Path:
    """The store a setting names: `url`, or the SQLite file in `data_dir` when empty."""
    return url if url else Path(data_dir) / SQLITE_FILE


def open_backend(location: str | Path, *, pool_size: int = 10) -> Backend:
    """The backend for a path, a sqlite:/// URL or a postgresql:// URL.

    Raises:
        InvalidInputError: for another URL scheme.
    """
    if is_postgres_url(location):
        try:
            from rag.storage.pg_backend import PgBackend  # psycopg only when asked for
        except ImportError as exc:
            raise InvalidInputError(f"a PostgreSQL store needs psycopg 3 and psycopg-pool ({exc}):"
                                    " pip install -e '.[postgres]'") from exc

        return PgBackend(str(location), pool_size=pool_size)
    from rag.storage.sqlite_backend import SqliteBackend

    text = str(location)
    if text.startswith("sqlite:///"):  # a file URL: sqlite:///abs/path -> /abs/path
        return SqliteBackend(Path(text[len("sqlite://"):]))
    if "://" in text:
        raise InvalidInputError(f"unknown store URL {text!r}: use postgresql://user@host/db, "
                                "sqlite:///path/ragmem.sqlite3 or a file path")
    return SqliteBackend(Path(text))

