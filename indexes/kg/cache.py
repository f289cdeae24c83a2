"""OpenIE cache in SQLite, keyed by the hash of a chunk's indexed text and the source.

OpenIE is the costly step of building a HippoRAG graph (Gutiérrez et al. 2024), so its
results outlive index generations: a rebuild or a re-ingest of the same text reuses them,
and HippoRAG's precomputed files can be imported once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from indexes.kg.openie import OpenIEResult

TABLE = "kg_openie_cache"


class OpenIECache:
    """Table `kg_openie_cache(text_hash, source, result)` in a SQLite file.

    A connection is opened per call, so one cache may be shared across threads.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        if not self._ready:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (text_hash TEXT NOT NULL, "
                "source TEXT NOT NULL, result TEXT NOT NULL, PRIMARY KEY (text_hash, source))")
            conn.commit()
            self._ready = True
        return conn

    def get_many(self, hashes: Sequence[str], sources: Sequence[str]) -> dict[str, OpenIEResult]:
        """Cached results for `hashes`, taking the first of `sources` that has one.

        Args:
            hashes: text hashes to look up.
            sources: source names in order of preference.

        Returns:
            A map from hash to result, for the hashes found.
        """
        found: dict[str, OpenIEResult] = {}
        wanted = list(dict.fromkeys(hashes))
        with self._connect() as conn:
            for source in sources:
                missing = [h for h in wanted if h not in found]
                for start in range(0, len(missing), 500):
                    part = missing[start:start + 500]
                    marks = ",".join("?" * len(part))
                    rows = conn.execute(
                        f"SELECT text_hash, result FROM {TABLE} WHERE source = ? "
                        f"AND text_hash IN ({marks})", [source, *part])
                    found.update((h, OpenIEResult.from_json(r)) for h, r in rows)
        return found

    def put_many(self, items: Iterable[tuple[str, OpenIEResult]]) -> int:
        """Store `(hash, result)` pairs under each result's source; returns the count."""
        rows = [(h, r.source, r.to_json()) for h, r in items]
        with self._connect() as conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO {TABLE} (text_hash, source, result) VALUES (?, ?, ?)",
                rows)
        return len(rows)

    def import_results(self, results: Mapping[str, OpenIEResult]) -> int:
        """Store what `read_hipporag_openie` returned; returns the number of rows."""
        return self.put_many(results.items())

    def count(self, source: str | None = None) -> int:
        """Number of cached results, of one source or of all."""
        with self._connect() as conn:
            if source is None:
                return int(conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])
            return int(conn.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE source = ?",
                                    (source,)).fetchone()[0])
