"""Weighted Reciprocal Rank Fusion against hand-computed fusions."""

from __future__ import annotations

import pytest

from indexes.base import Hit
from indexes.rrf import rrf_fuse

pytestmark = pytest.mark.unit


def ranking(*ids: int, source: str = "x") -> list[Hit]:
    # scores are irrelevant to RRF: make them decreasing nonsense to prove it
    return [Hit(i, 100.0 - n * 7.5, source) for n, i in enumerate(ids)]


def pairs(hits: list[Hit]) -> list[tuple[int, float]]:
    return [(h.chunk_id, pytest.approx(h.score, abs=1e-12)) for h in hits]


def test_two_lists_equal_weights() -> None:
    fused = rrf_fuse([ranking(1, 2, 3), ranking(3, 1, 4)], k=60)
    expected = [
        (1, 1 / 61 + 1 / 62),
        (3, 1 / 63 + 1 / 61),
        (2, 1 / 62),
        (4, 1 / 63),
    ]
    assert [h.chunk_id for h in fused] == [1, 3, 2, 4]
    assert pairs(fused) == expected
    assert all(h.source == "rrf" for h in fused)


def test_weights() -> None:
    # with weight 3 on the second list, its first item wins
    fused = rrf_fuse([ranking(1, 2), ranking(2, 1)], k=1, weights=[1.0, 3.0], source="hybrid")
    assert pairs(fused) == [(2, 1 / 3 + 3 / 2), (1, 1 / 2 + 3 / 3)]
    assert {h.source for h in fused} == {"hybrid"}


def test_zero_weight_list_adds_nothing_but_still_lists_items() -> None:
    fused = rrf_fuse([ranking(1), ranking(2)], k=0, weights=[1.0, 0.0])
    assert pairs(fused) == [(1, 1.0), (2, 0.0)]


def test_duplicates_within_a_list_count_once_at_their_best_rank() -> None:
    fused = rrf_fuse([ranking(5, 7, 5, 5), ranking(7)], k=10)
    # 5: rank 1 only (later copies ignored); 7: rank 2 in list one, rank 1 in list two
    # (the duplicate does not shift 7's rank: ranks are positions in the list)
    assert pairs(fused) == [(7, 1 / 12 + 1 / 11), (5, 1 / 11)]


def test_ties_are_broken_by_chunk_id() -> None:
    fused = rrf_fuse([ranking(9, 4), ranking(4, 9)], k=60)
    assert [h.chunk_id for h in fused] == [4, 9]
    assert fused[0].score == fused[1].score
    fused = rrf_fuse([ranking(30), ranking(20), ranking(10)])
    assert [h.chunk_id for h in fused] == [10, 20, 30]


def test_limit() -> None:
    fused = rrf_fuse([ranking(1, 2, 3, 4, 5)], k=60, limit=2)
    assert pairs(fused) == [(1, 1 / 61), (2, 1 / 62)]
    assert rrf_fuse([ranking(1, 2)], limit=0) == []
    assert len(rrf_fuse([ranking(1, 2)], limit=10)) == 2


def test_default_k_is_60() -> None:
    assert rrf_fuse([ranking(1)])[0].score == pytest.approx(1 / 61)


def test_empty_inputs() -> None:
    assert rrf_fuse([]) == []
    assert rrf_fuse([[], []]) == []


def test_single_list_keeps_its_order() -> None:
    ids = [8, 3, 5, 1, 9]
    assert [h.chunk_id for h in rrf_fuse([ranking(*ids)])] == ids


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="-1"):
        rrf_fuse([ranking(1)], k=-1)
    with pytest.raises(ValueError, match="1 weights for 2 rankings"):
        rrf_fuse([ranking(1), ranking(2)], weights=[1.0])


def test_inputs_are_not_mutated() -> None:
    a, b = ranking(1, 2), ranking(2, 3)
    snapshot = (list(a), list(b))
    rrf_fuse([a, b], limit=1)
    assert (a, b) == snapshot
