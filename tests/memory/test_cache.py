"""The decayed-score block cache (no model)."""

from __future__ import annotations

import pytest

from memory.cache import BlockCache

pytestmark = pytest.mark.unit


def loader(calls: list):
    def load(keys):
        calls.append(list(keys))
        return {k: (f"payload-{k}", 100) for k in keys}

    return load


def test_misses_load_once_then_hit():
    calls: list = []
    cache = BlockCache(max_bytes=1000)
    assert cache.get_many([1, 2], loader(calls)) == {1: "payload-1", 2: "payload-2"}
    assert cache.get_many([2, 3], loader(calls)) == {2: "payload-2", 3: "payload-3"}
    assert calls == [[1, 2], [3]]
    assert cache.stats()["hits"] == 1 and cache.stats()["misses"] == 3


def test_bytes_stay_bounded_and_lowest_score_goes_first():
    calls: list = []
    cache = BlockCache(max_bytes=300, decay=0.9)
    for _ in range(3):
        cache.get_many(["hot"], loader(calls))  # used often
    cache.get_many(["cold"], loader(calls))
    cache.get_many(["warm"], loader(calls))
    cache.get_many(["new"], loader(calls))  # 4 x 100 bytes > 300: one must go
    assert cache.nbytes <= 300
    assert "cold" not in cache
    assert all(k in cache for k in ("hot", "warm", "new"))
    assert cache.stats()["evictions"] == 1


def test_scores_decay():
    cache = BlockCache(max_bytes=10_000, decay=0.5)
    load = loader([])
    cache.get_many(["a"], load)
    assert cache.score("a") == pytest.approx(1.0)
    cache.get_many(["b"], load)
    assert cache.score("a") == pytest.approx(0.5)
    assert cache.score("b") == pytest.approx(1.0)
    cache.get_many(["a"], load, tick=False)
    assert cache.score("a") == pytest.approx(1.5)


def test_recent_use_beats_old_frequency_after_decay():
    cache = BlockCache(max_bytes=200, decay=0.5)
    load = loader([])
    for _ in range(3):
        cache.get_many(["old"], load)
    for _ in range(6):
        cache.get_many(["recent"], load)
    cache.get_many(["x"], load)
    assert "old" not in cache and "recent" in cache and "x" in cache


def test_payload_larger_than_cache_is_returned_not_kept():
    cache = BlockCache(max_bytes=50)
    assert cache.get_many([1], loader([])) == {1: "payload-1"}
    assert cache.nbytes == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="decay"):
        BlockCache(decay=0.0)
    with pytest.raises(ValueError, match="max_bytes"):
        BlockCache(max_bytes=-1)
