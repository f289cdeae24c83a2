"""Tests for eval.metrics against values computed by hand (arithmetic in the comments)."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    all_recall_at_k,
    exact_match,
    f1_score,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    percentile,
    recall_at_k,
    summarize,
)

pytestmark = pytest.mark.unit

RANKED = ["a", "b", "c", "d", "e"]


def test_recall_at_k():
    # gold {a, c, x}: top1 {a} -> 1/3; top3 {a,b,c} -> 2/3; top5 still 2/3 (x never found)
    assert recall_at_k(RANKED, ["a", "c", "x"], 1) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, ["a", "c", "x"], 3) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, ["a", "c", "x"], 5) == pytest.approx(2 / 3)
    # repeated gold counts once: gold {b} -> 1/1
    assert recall_at_k(RANKED, ["b", "b"], 2) == 1.0
    # k larger than the list is fine
    assert recall_at_k(RANKED, ["e"], 100) == 1.0


def test_recall_deduplicates_ranked_list():
    # ranked a,a,b: the distinct top 2 is {a, b} -> gold {b} found -> 1.0
    assert recall_at_k(["a", "a", "b"], ["b"], 2) == 1.0


def test_all_recall_at_k():
    assert all_recall_at_k(RANKED, ["a", "c"], 2) == 0.0  # c is at rank 3
    assert all_recall_at_k(RANKED, ["a", "c"], 3) == 1.0
    assert all_recall_at_k(RANKED, ["a", "z"], 5) == 0.0


@pytest.mark.parametrize("bad_k", [0, -1, 2.0, True])
def test_bad_k(bad_k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        recall_at_k(RANKED, ["a"], bad_k)


def test_empty_gold_is_an_error():
    with pytest.raises(ValueError, match="gold_ids is empty"):
        recall_at_k(RANKED, [], 2)
    with pytest.raises(ValueError, match="gold_ids is empty"):
        mrr_at_k(RANKED, {"a": 0})


def test_ndcg_binary():
    # rel {b:1, d:1}; ranks 2 and 4 -> DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068
    # ideal ranks 1, 2 -> IDCG = 1/log2(2) + 1/log2(3) = 1 + 0.63093
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(RANKED, {"b": 1, "d": 1}, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(RANKED, {"b": 1, "d": 1}, 10) == pytest.approx(0.650921, abs=1e-6)


def test_ndcg_graded_and_cut():
    # rel {a:1, c:2, z:3}; k=3 -> DCG = 1/1 + 2/log2(4) = 1 + 1 = 2
    # ideal sorted 3,2,1 -> 3 + 2/log2(3) + 1/log2(4) = 3 + 1.26186 + 0.5 = 4.76186
    assert ndcg_at_k(RANKED, {"a": 1, "c": 2, "z": 3}, 3) == pytest.approx(2 / 4.761859, abs=1e-6)
    # k=1: DCG = 1; ideal cut at 1 -> 3 -> 1/3
    assert ndcg_at_k(RANKED, {"a": 1, "c": 2, "z": 3}, 1) == pytest.approx(1 / 3)
    # a perfect ranking scores 1; zero and negative judgements add no gain
    assert ndcg_at_k(["x", "y"], {"x": 2, "y": 1, "w": 0, "v": -1}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(RANKED, {"a": 0}, 10) == 0.0


def test_mrr():
    assert mrr_at_k(RANKED, ["c", "e"], 10) == pytest.approx(1 / 3)  # first hit at rank 3
    assert mrr_at_k(RANKED, ["c"], 2) == 0.0  # beyond the cut
    assert mrr_at_k(RANKED, {"a": 0, "b": 1}, 10) == 0.5  # only positive judgements count


def test_normalize_answer():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("An apple, a day") == "apple day"
    assert normalize_answer("theory") == "theory"  # article only as a whole word


def test_exact_match():
    assert exact_match("the Beatles.", "Beatles") == 1.0
    assert exact_match("Stanley Hall", ["G. Stanley Hall", "Stanley Hall"]) == 1.0
    assert exact_match("Hall", ["G. Stanley Hall"]) == 0.0
    with pytest.raises(ValueError, match="answers is empty"):
        exact_match("x", [])


def test_f1_score():
    # pred "stanley hall" vs "g stanley hall": common 2; P = 2/2, R = 2/3; F1 = 2PR/(P+R) = 0.8
    assert f1_score("Stanley Hall", "G. Stanley Hall") == pytest.approx(0.8)
    # max over aliases: the second alias is an exact match
    assert f1_score("Stanley Hall", ["G. Stanley Hall", "Stanley Hall"]) == 1.0
    # token multiset: pred "a b b" -> "b b" (article a dropped); gold "b c": common 1
    # P = 1/2, R = 1/2 -> F1 = 0.5
    assert f1_score("a b b", "b c") == pytest.approx(0.5)
    assert f1_score("cat", "dog") == 0.0
    assert f1_score("the", "an") == 1.0  # both normalize to nothing
    assert f1_score("the", "dog") == 0.0


def test_percentile_matches_numpy_linear():
    np = pytest.importorskip("numpy")
    values = [10.0, 1.0, 4.0, 7.0]
    # sorted 1,4,7,10; p50: pos = 3*0.5 = 1.5 -> 4 + 0.5*3 = 5.5
    assert percentile(values, 50) == pytest.approx(5.5)
    # p95: pos = 3*0.95 = 2.85 -> 7 + 0.85*3 = 9.55
    assert percentile(values, 95) == pytest.approx(9.55)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 10.0
    assert percentile([3.0], 95) == 3.0
    for q in (0, 12.5, 50, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_errors():
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match="q must be in"):
        percentile([1.0], 101)


def test_summarize_multihop():
    rows = [
        # gold {a, b}: R@1 = 1/2, R@2 = 2/2; AR@1 = 0, AR@2 = 1
        {"ranked_ids": ["a", "b", "c"], "gold_ids": ["a", "b"], "latency_ms": 10.0},
        # gold {c}: R@1 = 0, R@2 = 0; AR = 0
        {"ranked_ids": ["a", "b", "c"], "gold_ids": ["c"], "latency_ms": 30.0},
    ]
    out = summarize(rows, ks=(1, 2))
    assert list(out) == [
        "R@1",
        "R@2",
        "AR@1",
        "AR@2",
        "latency_ms_p50",
        "latency_ms_p95",
        "latency_ms_mean",
    ]
    assert out["R@1"] == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert out["R@2"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert out["AR@1"] == 0.0
    assert out["AR@2"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert out["latency_ms_p50"] == pytest.approx(20.0)  # pos 0.5 -> 10 + 0.5*20
    assert out["latency_ms_p95"] == pytest.approx(29.0)  # pos 0.95 -> 10 + 0.95*20
    assert out["latency_ms_mean"] == pytest.approx(20.0)


def test_summarize_beir_and_answers():
    rows = [
        # rel {a:1}: nDCG = 1, MRR = 1
        {
            "ranked_ids": ["a", "b"],
            "gold_ids": ["a"],
            "relevance": {"a": 1},
            "prediction": "the cat",
            "answers": ["cat"],
        },
        # rel {b:1}: DCG = 1/log2(3) = 0.63093, IDCG = 1 -> 0.63093; MRR = 1/2
        {
            "ranked_ids": ["a", "b"],
            "gold_ids": ["b"],
            "relevance": {"b": 1},
            "prediction": "black dog",
            "answers": ["dog"],
        },
    ]
    out = summarize(rows, ks=(1,))
    assert out["nDCG@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert out["MRR@10"] == pytest.approx(0.75)  # (1 + 0.5) / 2
    assert out["EM"] == pytest.approx(0.5)  # 1 + 0
    # F1 row 2: "black dog" vs "dog": P = 1/2, R = 1 -> 2/3; mean (1 + 2/3) / 2
    assert out["F1"] == pytest.approx(5 / 6)
    assert "latency_ms_p50" not in out


def test_summarize_errors():
    with pytest.raises(ValueError, match="at least one row"):
        summarize([])
    rows = [
        {"ranked_ids": ["a"], "gold_ids": ["a"], "latency_ms": 1.0},
        {"ranked_ids": ["a"], "gold_ids": ["a"]},
    ]
    with pytest.raises(ValueError, match="'latency_ms' is set in 1 of 2 rows"):
        summarize(rows)
