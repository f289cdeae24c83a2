"""Copy every row of one store into another (`ragmem store copy`): SQLite -> PostgreSQL
to move a data dir under several replicas, or back.

Ids are kept (chunk ids are the index's vector ids, so the index dir stays valid), the
destination's identity counters move past them, and the whole copy is one destination
transaction: a failure leaves the destination as it was. Each table's row count is
checked on both sides at the end.
"""

from __future__ import annotations

from collections.abc import Callable

from rag.errors import ConflictError, StorageError
from rag.storage.store import Store

# Every table, parents first, with the key that pages it (keyset: no OFFSET scans).
COPY_TABLES: dict[str, tuple[str, ...]] = {
    "collections": ("id",), "documents": ("pk",), "chunks": ("id",), "ops": ("seq",),
    "jobs": ("id",), "api_keys": ("id",), "session_owners": ("session_id",),
    "kg_openie_cache": ("text_hash", "source"), "memory_memories": ("id",),
    "memory_blocks": ("memory_id", "block_id"), "memory_reps": ("memory_id", "block_id", "j"),
    "memory_sessions": ("id",), "memory_session_meta": ("session_id",),
    "memory_messages": ("session_id", "seq"), "memory_core": ("session_id", "key"),
    "memory_archival": ("session_id", "id"),
}
# Generated keys: the destination's counter must continue after the copied ids.
IDENTITY = {"collections": "id", "documents": "pk", "chunks": "id", "ops": "seq",
            "api_keys": "id", "memory_memories": "id"}
PAGE = 2000

Progress = Callable[[str, int, int], None]  # (table, rows copied so far, rows in the table)


def table_counts(store: Store) -> dict[str, int]:
    """Rows per table."""
    return {t: int(store.query(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in COPY_TABLES}


def copy_store(source: Store, dest: Store, *, progress: Progress | None = None,
               page: int = PAGE) -> dict[str, int]:
    """Copy every table of `source` into the empty `dest` (both connected); returns the
    rows per table.

    Raises:
        ConflictError: when `dest` holds rows already (nothing is written).
        StorageError: when a table's count differs after the copy (rolled back).
    """
    if source.url == dest.url:
        raise ConflictError(f"source and destination are the same store ({source.url})")
    counts = table_counts(source)
    held = {t: n for t, n in table_counts(dest).items() if n}
    if held:
        raise ConflictError(f"the destination is not empty ({held}): copy into a new database")
    with dest.transaction() as conn:
        for table, keys in COPY_TABLES.items():
            copied = 0
            if progress:
                progress(table, 0, counts[table])
            for rows in _pages(source, table, keys, page):
                columns = rows[0].keys()
                names = ", ".join(f'"{c}"' for c in columns)  # quoted: chunks has "end"
                conn.executemany(f"INSERT INTO {table} ({names}) VALUES"
                                 f" ({', '.join('?' * len(columns))})", [tuple(r) for r in rows])
                copied += len(rows)
                if progress:
                    progress(table, copied, counts[table])
            if table in IDENTITY:
                dest.backend.continue_identity(conn, table, IDENTITY[table])
        for table, expected in counts.items():
            got = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            if got != expected:
                raise StorageError(f"copy check failed: {table} has {expected} rows in the source"
                                   f" but {got} in the destination; nothing was committed")
    return counts


def _pages(store: Store, table: str, keys: tuple[str, ...], size: int):
    """The table's rows in key order, `size` at a time (keyset pagination)."""
    order = ", ".join(keys)
    rows = store.query(f"SELECT * FROM {table} ORDER BY {order} LIMIT ?", (size,))
    while rows:
        yield rows
        last = tuple(rows[-1][k] for k in keys)
        marks = ", ".join("?" * len(keys))
        rows = store.query(f"SELECT * FROM {table} WHERE ({order}) > ({marks}) ORDER BY {order}"
                           " LIMIT ?", (*last, size))
