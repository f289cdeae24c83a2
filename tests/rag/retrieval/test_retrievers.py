"""Retrievers by name behind one interface; hybrid = weighted RRF over the indexes."""

from __future__ import annotations

import pytest

from indexes.base import Chunk, Hit, Retriever
from indexes.bm25 import BM25Index
from indexes.rrf import rrf_fuse
from rag.errors import InvalidInputError
from rag.retrieval.base import (
    RETRIEVER_NAMES,
    HybridRetriever,
    IndexRetriever,
    Retrieval,
    TracingRetriever,
)
from rag.retrieval.evidence_check import EvidenceChecked
from rag.retrieval.factory import build_retriever
from rag.settings import RetrievalSettings

pytestmark = pytest.mark.unit


class Fixed:
    """A retriever with a fixed ranking that records the k it was asked for."""

    def __init__(self, *ids: int, source: str = "fixed") -> None:
        self.ids, self.source, self.asked = ids, source, []

    def search(self, query: str, k: int) -> list[Hit]:
        self.asked.append(k)
        return [Hit(i, 1.0 / (n + 1), self.source) for n, i in enumerate(self.ids)][:k]


def test_names() -> None:
    assert set(RETRIEVER_NAMES) >= {"bm25", "dense", "hybrid"}


def test_index_retriever() -> None:
    index = BM25Index()
    index.add([Chunk(1, "red apples"), Chunk(2, "green pears")])
    retriever = IndexRetriever("bm25", index)
    assert isinstance(retriever, Retriever) and isinstance(retriever, TracingRetriever)
    result = retriever.retrieve("apples", 5)
    assert isinstance(result, Retrieval)
    assert [h.chunk_id for h in result.hits] == [1] and result.trace == {"retriever": "bm25"}
    assert retriever.search("pears", 5)[0].chunk_id == 2
    with pytest.raises(ValueError, match="0"):
        retriever.retrieve("apples", 0)


def test_hybrid_fuses_with_weights_and_asks_for_candidates() -> None:
    a, b = Fixed(1, 2, 3), Fixed(3, 4)
    hybrid = HybridRetriever({"a": a, "b": b}, weights={"a": 1.0, "b": 2.0}, rrf_k=10,
                             candidates=7)
    result = hybrid.retrieve("q", 2)
    expected = rrf_fuse([a.search("q", 7), b.search("q", 7)], k=10, weights=[1.0, 2.0], limit=2,
                        source="hybrid")
    assert result.hits == expected
    assert [h.chunk_id for h in result.hits] == [3, 4]  # 1/13 + 2/11 ; 2/12
    assert a.asked[0] == 7 and b.asked[0] == 7
    assert result.trace == {"retriever": "hybrid", "fused": ["a", "b"],
                            "weights": {"a": 1.0, "b": 2.0}, "rrf_k": 10}
    hybrid.retrieve("q", 20)
    assert a.asked[-1] == 20  # never fewer candidates than the hits asked for
    assert isinstance(hybrid, TracingRetriever)


def test_hybrid_validation() -> None:
    with pytest.raises(ValueError, match="no weight"):
        HybridRetriever({"a": Fixed(1)}, weights={})
    hybrid = HybridRetriever({"a": Fixed(1)}, weights={"a": 1.0})
    with pytest.raises(ValueError):
        hybrid.retrieve("q", 0)


def test_build_retriever() -> None:
    indexes = {"bm25": Fixed(1, source="bm25"), "dense": Fixed(2, source="dense")}
    settings = RetrievalSettings()
    assert build_retriever("bm25", indexes, settings).search("q", 1)[0].chunk_id == 1
    assert build_retriever("dense", indexes, settings).search("q", 1)[0].chunk_id == 2
    hybrid = build_retriever("hybrid", indexes, settings)
    # Every retriever comes with the evidence check around it (issue 19.3).
    assert isinstance(hybrid, EvidenceChecked) and isinstance(hybrid.inner, HybridRetriever)
    assert hybrid.inner.rrf_k == 60
    assert {h.chunk_id for h in hybrid.search("q", 5)} == {1, 2}
    assert "evidence_check" in hybrid.retrieve("q", 5).trace
    off = RetrievalSettings(evidence={"enabled": False})
    assert isinstance(build_retriever("hybrid", indexes, off), HybridRetriever)
    with pytest.raises(InvalidInputError, match="unknown retriever 'nope'"):
        build_retriever("nope", indexes, settings)


def test_hybrid_uses_only_the_weighted_indexes_present() -> None:
    settings = RetrievalSettings(hybrid_weights={"bm25": 1.0, "dense": 0.5, "kg": 1.0})
    hybrid = build_retriever("hybrid", {"bm25": Fixed(1), "dense": Fixed(2)}, settings)
    assert hybrid.retrieve("q", 3).trace["fused"] == ["bm25", "dense"]
    assert hybrid.inner.weights == {"bm25": 1.0, "dense": 0.5}
