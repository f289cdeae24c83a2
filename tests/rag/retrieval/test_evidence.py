"""The evidence check's pure decisions: term evidence, coverage, the verdict, the trace reader."""

from __future__ import annotations

import math

import pytest

from rag.generation.answers import NO_ANSWER
from rag.retrieval.evidence import (
    Abstention,
    EvidenceSignals,
    EvidenceThresholds,
    TermEvidence,
    abstention_of,
    coverage,
    decide,
    idf,
    term_evidence,
    vouches,
)

pytestmark = pytest.mark.unit

T = EvidenceThresholds(cosine=0.2, coverage=0.6, weight=3.0, score=1.8, strong_cosine=0.75)


def test_unseen_terms_weigh_most():
    assert idf(0, 100) > idf(1, 100) > idf(50, 100) > 0
    assert idf(500, 100) == idf(100, 100)  # df is capped at the document count


def test_coverage_is_idf_weighted():
    # "fifa" (never seen) missing outweighs "world" (common) found.
    terms = [TermEvidence("world", 40, 1.0), TermEvidence("fifa", 0, 0.0)]
    share = coverage(terms, 100)
    assert share == pytest.approx(idf(40, 100) / (idf(40, 100) + idf(0, 100)))
    assert share < 0.5
    assert coverage([TermEvidence("volcano", 2, 1.0)], 100) == 1.0
    assert coverage([], 100) is None


def test_term_evidence_reads_presence_and_df():
    terms = term_evidence(["volcano", "lava", "volcano"], {"volcano": 3}, {"volcano"}, "")
    assert terms == [TermEvidence("volcano", 3, 1.0), TermEvidence("lava", 0, 0.0)]


def test_unseen_cjk_bigrams_count_by_their_characters():
    # 熊猫吃什么: 猫吃 and 吃什 straddle words (never in the corpus), 什么 is a question word.
    text = "大熊猫主要吃竹子，每天要吃十几公斤。"
    terms = term_evidence(["熊猫", "猫吃", "吃什", "什么"], {"熊猫": 1}, {"熊猫"}, text)
    assert [t.term for t in terms] == ["熊猫", "猫吃", "吃什"]
    assert all(t.found == 1.0 for t in terms)
    assert coverage(terms, 10) == 1.0
    absent = term_evidence(["熊猫", "猫吃"], {"熊猫": 1}, set(), "北京是中国的首都。")
    assert coverage(absent, 10) == 0.0


def test_decide_answers_on_good_evidence():
    assert decide(EvidenceSignals(0.5, 0.4), T) is None  # 0.4 + 3 x 0.5 = 1.9 >= 1.8
    assert decide(EvidenceSignals(0.8, 0.1), T) is None  # a paraphrase: meaning alone
    assert decide(EvidenceSignals(0.23, 1.0), T) is None  # every term found, above the floor
    assert decide(EvidenceSignals(None, 0.7), T) is None  # no dense index: coverage decides
    assert decide(EvidenceSignals(0.5, None), T) is None  # no content term: cosine decides
    assert decide(EvidenceSignals(None, None), T) is None


def test_decide_abstains_with_the_reason():
    terms = (TermEvidence("world", 40, 1.0), TermEvidence("fifa", 0, 0.0), TermEvidence("cup", 1, 0.0))
    low = decide(EvidenceSignals(0.3, 0.2, terms), T)  # 0.2 + 0.9 = 1.1 < 1.8
    assert isinstance(low, Abstention) and low.by == "evidence_check"
    assert "20%" in low.reason and "'fifa', 'cup'" in low.reason
    assert "1.10, below 1.80" in low.reason
    assert decide(EvidenceSignals(0.15, 1.0), T) is not None  # every term, but far in meaning
    assert decide(EvidenceSignals(None, 0.5), T) is not None
    far = decide(EvidenceSignals(0.3, None), T)
    assert far is not None and "0.30" in far.reason and "0.45" in far.reason
    assert far.message().startswith(NO_ANSWER) and far.reason in far.message()


def test_vouching_overrules_crag_only_with_every_term_found():
    assert vouches(EvidenceSignals(0.25, 1.0), T)
    assert not vouches(EvidenceSignals(0.25, 0.9), T)
    assert not vouches(EvidenceSignals(0.1, 1.0), T)
    crag = {"crag": {"abstain": True}}
    assert abstention_of({**crag, "evidence_check": {"abstain": False, "vouches": True}}) is None
    assert abstention_of({**crag, "evidence_check": {"abstain": False, "vouches": False}}).by == "crag"


def test_thresholds_validate_and_merge_a_calibration():
    with pytest.raises(ValueError, match="coverage"):
        EvidenceThresholds(coverage=1.5)
    with pytest.raises(ValueError, match="score"):
        EvidenceThresholds(score=5.0)
    merged = EvidenceThresholds.from_mapping({"score": 1.5, "enabled": True}, T)
    assert merged == EvidenceThresholds(cosine=0.2, coverage=0.6, weight=3.0, score=1.5,
                                        strong_cosine=0.75)
    assert EvidenceThresholds.from_mapping(None, T) == T
    assert EvidenceThresholds.from_mapping(T.to_dict()) == T


def test_signals_trace_form():
    terms = (TermEvidence("cup", 3, 0.0), TermEvidence("fifa", 0, 0.0), TermEvidence("world", 9, 1.0))
    data = EvidenceSignals(0.123456, 0.5, terms).to_dict()
    assert data == {"cosine": 0.1235, "coverage": 0.5, "missing_terms": ["fifa", "cup"]}


def test_abstention_of_reads_both_checks():
    assert abstention_of({"retriever": "hybrid"}) is None
    assert abstention_of({"evidence_check": {"abstain": False}}) is None
    ev = abstention_of({"evidence_check": {"abstain": True, "reason": "weak"}})
    assert ev == Abstention("evidence_check", "weak")
    crag = abstention_of({"crag": {"abstain": True}, "evidence_check": {"abstain": False}})
    assert crag is not None and crag.by == "crag"


def test_idf_is_bm25s_lucene_form():
    assert idf(1, 10) == pytest.approx(math.log(1 + (10 - 1 + 0.5) / 1.5))
