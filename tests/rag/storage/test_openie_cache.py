"""The OpenIE cache in the store's database, SQLite and PostgreSQL (created by the migrations)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from indexes.kg.cache import OpenIECache
from indexes.kg.openie import OpenIEResult
from rag.storage.openie_cache import TABLE, StoreOpenIECache
from rag.storage.store import Store

pytestmark = pytest.mark.unit


def test_put_get_with_source_preference(store_location) -> None:
    cache = StoreOpenIECache(Store(store_location).connect())
    assert isinstance(cache, OpenIECache)
    spacy = OpenIEResult.build(["a"], [], source="spacy")
    imported = OpenIEResult.build(["b"], [["b", "r", "c"]], source="import")
    assert cache.put_many([("h1", spacy), ("h2", spacy), ("h1", imported)]) == 3
    got = cache.get_many(["h1", "h2", "h3"], ["import", "spacy"])
    assert got == {"h1": imported, "h2": spacy}
    assert cache.get_many(["h1"], ["spacy"]) == {"h1": spacy}
    assert cache.count() == 3 and cache.count("import") == 1
    assert cache.put_many([("h1", spacy)]) == 1  # replaces its row, as SQLite's OR REPLACE
    assert cache.count() == 3 and cache.get_many(["h1"], ["spacy"]) == {"h1": spacy}
    if isinstance(store_location, Path):
        with sqlite3.connect(store_location) as conn:
            assert conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0] == 3


def test_many_keys(store_location) -> None:
    cache = StoreOpenIECache(Store(store_location).connect())
    result = OpenIEResult.build(["a"], [], source="s")
    cache.put_many((f"h{i}", result) for i in range(1200))
    assert len(cache.get_many([f"h{i}" for i in range(1300)], ["s"])) == 1200
