"""The OpenIE cache (`indexes.kg.cache.OpenIECache`) in the store's SQLite database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from indexes.kg.openie import OpenIEResult
from rag.storage.store import Store

TABLE = "kg_openie_cache"  # created by migration 4
_BATCH = 500  # host parameters per IN (...), well under SQLite's limit


class StoreOpenIECache:
    """Table `kg_openie_cache(text_hash, source, result)`, through the store's connections
    (the store's one policy: WAL, synchronous=FULL, one transaction per write)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get_many(self, hashes: Sequence[str], sources: Sequence[str]) -> dict[str, OpenIEResult]:
        """Cached results for `hashes`, taking the first of `sources` that has one."""
        found: dict[str, OpenIEResult] = {}
        wanted = list(dict.fromkeys(hashes))
        for source in sources:
            missing = [h for h in wanted if h not in found]
            for start in range(0, len(missing), _BATCH):
                part = missing[start:start + _BATCH]
                marks = ",".join("?" * len(part))
                rows = self.store.query(f"SELECT text_hash, result FROM {TABLE} WHERE source = ?"
                                        f" AND text_hash IN ({marks})", [source, *part])
                found.update((h, OpenIEResult.from_json(r)) for h, r in rows)
        return found

    def put_many(self, items: Iterable[tuple[str, OpenIEResult]]) -> int:
        """Store `(hash, result)` pairs under each result's source; returns the count."""
        rows = [(h, r.source, r.to_json()) for h, r in items]
        with self.store.transaction() as conn:
            conn.executemany(f"INSERT OR REPLACE INTO {TABLE} (text_hash, source, result)"
                             " VALUES (?, ?, ?)", rows)
        return len(rows)

    def count(self, source: str | None = None) -> int:
        """Number of cached results, of one source or of all."""
        if source is None:
            return int(self.store.query(f"SELECT COUNT(*) FROM {TABLE}")[0][0])
        return int(self.store.query(f"SELECT COUNT(*) FROM {TABLE} WHERE source = ?",
                                    (source,))[0][0])
