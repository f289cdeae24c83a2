"""The OpenIE cache in the store's SQLite database (created by the store's migrations)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from indexes.kg.cache import OpenIECache
from indexes.kg.openie import OpenIEResult
from rag.storage.openie_cache import TABLE, StoreOpenIECache
from rag.storage.store import Store

pytestmark = pytest.mark.unit


def test_put_get_with_source_preference(tmp_path: Path) -> None:
    cache = StoreOpenIECache(Store(tmp_path / "c.sqlite").connect())
    assert isinstance(cache, OpenIECache)
    spacy = OpenIEResult.build(["a"], [], source="spacy")
    imported = OpenIEResult.build(["b"], [["b", "r", "c"]], source="import")
    assert cache.put_many([("h1", spacy), ("h2", spacy), ("h1", imported)]) == 3
    got = cache.get_many(["h1", "h2", "h3"], ["import", "spacy"])
    assert got == {"h1": imported, "h2": spacy}
    assert cache.get_many(["h1"], ["spacy"]) == {"h1": spacy}
    assert cache.count() == 3 and cache.count("import") == 1
    with sqlite3.connect(tmp_path / "c.sqlite") as conn:
        assert conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0] == 3


def test_many_keys(tmp_path: Path) -> None:
    cache = StoreOpenIECache(Store(tmp_path / "c.sqlite").connect())
    result = OpenIEResult.build(["a"], [], source="s")
    cache.put_many((f"h{i}", result) for i in range(1200))
    assert len(cache.get_many([f"h{i}" for i in range(1300)], ["s"])) == 1200
