"""Adaptive routing: features of fixed questions, decisions on fixed features, the trace."""

from __future__ import annotations

import pytest

from indexes.base import Hit
from rag.retrieval.adaptive import (
    MULTI,
    NONE,
    SINGLE,
    AdaptiveRetriever,
    QueryFeatures,
    complexity,
    missing_entities,
    query_features,
    route,
)
from rag.retrieval.base import Retrieval

pytestmark = pytest.mark.unit


def test_features_of_fixed_questions():
    bridge = query_features("Who is the mother of the director of film Polish-Russian War?")
    assert bridge.bridge >= 2 and bridge.wh == "who" and bridge.entities == 1
    compare = query_features("Which film came out first, Blind Shaft or The Mask Of Fu Manchu?")
    assert compare.comparison >= 1 and compare.entities >= 2 and compare.wh == "which"
    assert compare.bridge == 0
    simple = query_features("When was Warsaw founded?")
    assert (simple.bridge, simple.comparison, simple.entities) == (0, 0, 1)
    where = query_features("When did the country where Nugegoda is located join CARICOM?")
    assert where.bridge >= 1
    grand = query_features("Who is the paternal grandfather of George Cochrane?")
    assert grand.bridge == 2 and complexity(grand) == 2


def test_route_on_fixed_features():
    simple = QueryFeatures(entities=1, bridge=0, comparison=0, words=4, wh="when")
    two_hop = QueryFeatures(entities=1, bridge=1, comparison=0, words=9, wh="where")
    deep = QueryFeatures(entities=1, bridge=3, comparison=0, words=16, wh="who")
    compare = QueryFeatures(entities=2, bridge=0, comparison=1, words=10, wh="which")
    bridge_compare = QueryFeatures(entities=2, bridge=1, comparison=2, words=12, wh="which")
    long_one = QueryFeatures(entities=1, bridge=0, comparison=0, words=14, wh="what")
    assert [complexity(f) for f in (simple, two_hop, deep, compare, bridge_compare, long_one)] == [
        0, 1, 2, 0, 2, 1]
    assert route(simple) == (SINGLE, 0)
    assert route(compare) == (SINGLE, 0)
    assert route(two_hop) == (MULTI, 1)
    assert route(deep) == (MULTI, 2)
    assert route(bridge_compare) == (MULTI, 2)  # one hidden director per compared film
    nothing = QueryFeatures(entities=0, bridge=0, comparison=0, words=5, wh="what")
    assert route(nothing, can_answer_alone=True) == (NONE, 0)
    assert route(nothing) == (SINGLE, 0)


def test_missing_entities_on_fixed_passages():
    passages = ["Blind Shaft (film)\nBlind Shaft is a 2003 film.", "An annual report on Fu Manchu."]
    assert missing_entities(["Blind Shaft", "The Mask Of Fu Manchu"], passages) == [
        "The Mask Of Fu Manchu"]
    assert missing_entities(["blind shaft", "FU  MANCHU"], passages) == []  # case, spacing
    assert missing_entities(["Ann"], passages) == ["Ann"]  # whole words: not in "annual"
    assert missing_entities(["Three Live Ghosts (1936 Film)"],
                            ["Three Live Ghosts (1936 film)\n..."]) == []
    assert missing_entities([], passages) == [] and missing_entities(["X"], []) == ["X"]


class _Fixed:
    def __init__(self, name: str, chunk: int, path: str | None = None) -> None:
        self.name, self.chunk, self.calls, self.path = name, chunk, 0, path

    def retrieve(self, query: str, k: int) -> Retrieval:
        self.calls += 1
        trace = {"retriever": self.name} | ({"path": self.path} if self.path else {})
        return Retrieval([Hit(self.chunk + n, 1.0, self.name) for n in range(k)], trace)


def test_adaptive_reports_the_route_and_uses_it():
    single, one, two = _Fixed("hybrid", 1), _Fixed("fusion", 2), _Fixed("fusion", 3)
    adaptive = AdaptiveRetriever(single, {1: one, 2: two})
    hard = adaptive.retrieve("Who is the father of the director of film Blind Shaft?", 5)
    easy = adaptive.retrieve("When was Warsaw founded?", 5)
    assert hard.trace["route"] == MULTI and hard.trace["routed_to"] == "fusion"
    assert hard.trace["level"] == 2 and hard.hits[0].chunk_id == 3
    assert hard.trace["retriever"] == "adaptive" and hard.trace["path"] == "offline"
    assert easy.trace["route"] == SINGLE and easy.hits[0].chunk_id == 1 and len(easy.hits) == 5
    assert easy.trace["level"] == 0 and easy.trace["features"]["entities"] == 1
    assert "verify" not in easy.trace  # no chunk texts: nothing to check
    assert (single.calls, one.calls, two.calls) == (1, 0, 1)
    with pytest.raises(ValueError, match="levels 1 and 2"):
        AdaptiveRetriever(single, {2: two})


class _Row:
    def __init__(self, title: str, text: str) -> None:
        self.title, self.text = title, text


def test_single_step_is_escalated_when_a_named_entity_is_missing():
    rows = {1: _Row("Blind Shaft", "A 2003 film."), 2: _Row("Warsaw", "A city."),
            3: _Row("Other", "Nothing here.")}

    def texts(ids):
        return {i: rows[i] for i in ids if i in rows}

    single, one, two = _Fixed("hybrid", 1), _Fixed("fusion", 10, "llm"), _Fixed("fusion", 20)
    adaptive = AdaptiveRetriever(single, {1: one, 2: two}, texts=texts, verify_depth=2)
    found = adaptive.retrieve("Which came out first, Blind Shaft or Warsaw?", 1)
    assert found.trace["route"] == SINGLE and found.trace["level"] == 0
    assert found.trace["verify"] == {"depth": 2, "missing": [], "escalated": False}
    assert [h.chunk_id for h in found.hits] == [1]  # checked at depth 2, cut to k
    lost = adaptive.retrieve("Which came out first, Blind Shaft or The Mask Of Fu Manchu?", 3)
    assert lost.trace["route"] == MULTI and lost.trace["level"] == 1
    assert lost.trace["verify"] == {"depth": 2, "missing": ["Mask Of Fu Manchu"],
                                    "escalated": True}
    assert lost.hits[0].chunk_id == 10 and lost.trace["path"] == "llm"
    assert (single.calls, one.calls, two.calls) == (2, 1, 0)
    unchecked = AdaptiveRetriever(single, {1: one, 2: two}, texts=texts, verify_depth=0)
    assert unchecked.retrieve("Which came out first, Blind Shaft or Mask?", 2).trace["route"] == SINGLE
    with pytest.raises(ValueError, match="verify_depth"):
        AdaptiveRetriever(single, {1: one, 2: two}, verify_depth=-1)
