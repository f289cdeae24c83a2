"""Adaptive routing: features of fixed questions, decisions on fixed features, the trace."""

from __future__ import annotations

import pytest

from indexes.base import Hit
from rag.retrievers import Retrieval
from rag.router import (
    MULTI,
    NONE,
    SINGLE,
    AdaptiveRetriever,
    QueryFeatures,
    complexity,
    query_features,
    route,
)

pytestmark = pytest.mark.unit


def test_features_of_fixed_questions():
    bridge = query_features("Who is the mother of the director of film Polish-Russian War?")
    assert bridge.bridge >= 2 and bridge.wh == "who" and bridge.entities == 1
    compare = query_features("Which film came out first, Blind Shaft or The Mask Of Fu Manchu?")
    assert compare.comparison >= 1 and compare.entities >= 2 and compare.wh == "which"
    simple = query_features("When was Warsaw founded?")
    assert (simple.bridge, simple.comparison, simple.entities) == (0, 0, 1)


def test_route_on_fixed_features():
    simple = QueryFeatures(entities=1, bridge=0, comparison=0, words=4, wh="when")
    bridge = QueryFeatures(entities=1, bridge=2, comparison=0, words=12, wh="who")
    compare = QueryFeatures(entities=2, bridge=0, comparison=2, words=12, wh="which")
    yes_no = QueryFeatures(entities=1, bridge=1, comparison=0, words=8, wh="is")
    assert complexity(simple) == 0.0
    assert complexity(bridge) == pytest.approx(0.72)
    assert complexity(compare) == pytest.approx(0.52)
    assert complexity(yes_no) == pytest.approx(0.15)
    assert route(simple, threshold=0.5) == SINGLE
    assert route(bridge, threshold=0.5) == MULTI
    assert route(compare, threshold=0.5) == MULTI and route(compare, threshold=0.6) == SINGLE
    assert route(yes_no, threshold=0.5) == SINGLE
    nothing = QueryFeatures(entities=0, bridge=0, comparison=0, words=5, wh="what")
    assert route(nothing, threshold=0.5, can_answer_alone=True) == NONE
    assert route(nothing, threshold=0.5) == SINGLE


class _Fixed:
    def __init__(self, name: str, chunk: int) -> None:
        self.name, self.chunk, self.calls = name, chunk, 0

    def retrieve(self, query: str, k: int) -> Retrieval:
        self.calls += 1
        return Retrieval([Hit(self.chunk, 1.0, self.name)], {"retriever": self.name})


def test_adaptive_reports_the_route_and_uses_it():
    single, multi = _Fixed("hybrid", 1), _Fixed("fusion", 2)
    adaptive = AdaptiveRetriever(single, multi, threshold=0.5)
    hard = adaptive.retrieve("Who is the father of the director of film Blind Shaft?", 5)
    easy = adaptive.retrieve("When was Warsaw founded?", 5)
    assert hard.trace["route"] == MULTI and hard.trace["routed_to"] == "fusion"
    assert hard.hits[0].chunk_id == 2 and hard.trace["retriever"] == "adaptive"
    assert easy.trace["route"] == SINGLE and easy.hits[0].chunk_id == 1
    assert "features" in easy.trace and "complexity" in easy.trace
    assert (single.calls, multi.calls) == (1, 1)
