"""Retrievers by name, all behind one interface: `retrieve(query, k) -> Retrieval`.

`bm25` and `dense` search one index; `hybrid` fuses them by weighted Reciprocal Rank
Fusion. Later retrievers (hipporag, fusion, crag, adaptive) join the same factory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from indexes.base import Hit, Retriever, validate_k
from indexes.rrf import rrf_fuse
from rag.errors import InvalidInputError
from rag.settings import RetrievalSettings

RETRIEVER_NAMES = ("bm25", "dense", "hybrid", "hipporag", "fusion", "crag", "adaptive")
LLM_RETRIEVERS = ("fusion", "crag", "adaptive")
"""Retrievers that use the configured LLM's JSON output when there is one."""


@dataclass(frozen=True)
class Retrieval:
    """Ranked hits plus a trace of how they were found (the response's `retrieval` block)."""

    hits: list[Hit]
    trace: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TracingRetriever(Retriever, Protocol):
    """A retriever that also explains itself."""

    def retrieve(self, query: str, k: int) -> Retrieval:
        """Hits and trace for `query`."""
        ...


class IndexRetriever:
    """Searches one index."""

    def __init__(self, name: str, index: Retriever) -> None:
        self.name = name
        self.index = index

    def retrieve(self, query: str, k: int) -> Retrieval:
        """Top `k` hits of the index."""
        return Retrieval(self.index.search(query, validate_k(k)), {"retriever": self.name})

    def search(self, query: str, k: int) -> list[Hit]:
        """Top `k` hits of the index."""
        return self.retrieve(query, k).hits


class GraphRetriever:
    """The knowledge-graph index (HippoRAG), with its seeds and facts in the trace."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def retrieve(self, query: str, k: int) -> Retrieval:
        """Top `k` passages by Personalized PageRank."""
        hits, trace = self.index.search_with_trace(query, validate_k(k))
        return Retrieval(hits, {"retriever": "hipporag", "kg": trace})

    def search(self, query: str, k: int) -> list[Hit]:
        """Top `k` passages by Personalized PageRank."""
        return self.retrieve(query, k).hits


class HybridRetriever:
    """Weighted RRF over several retrievers, each asked for `candidates` hits."""

    def __init__(self, retrievers: Mapping[str, Retriever], *, weights: Mapping[str, float],
                 rrf_k: int = 60, candidates: int = 50, name: str = "hybrid") -> None:
        missing = set(retrievers) - set(weights)
        if missing:
            raise ValueError(f"no weight for {sorted(missing)}")
        self.retrievers = dict(retrievers)
        self.weights = {n: float(weights[n]) for n in retrievers}
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.name = name

    def retrieve(self, query: str, k: int) -> Retrieval:
        """Fuse the rankings of every retriever."""
        validate_k(k)
        depth = max(k, self.candidates)
        rankings = [r.search(query, depth) for r in self.retrievers.values()]
        hits = rrf_fuse(rankings, k=self.rrf_k, weights=list(self.weights.values()), limit=k,
                        source=self.name)
        return Retrieval(hits, {"retriever": self.name, "fused": list(self.retrievers),
                                "weights": self.weights, "rrf_k": self.rrf_k})

    def search(self, query: str, k: int) -> list[Hit]:
        """Fused top `k`."""
        return self.retrieve(query, k).hits


def build_retriever(name: str, indexes: Mapping[str, Retriever], settings: RetrievalSettings,
                    *, context: Any = None) -> TracingRetriever:
    """Make the retriever called `name` over a collection's indexes.

    Args:
        name: one of `RETRIEVER_NAMES`.
        indexes: the collection's indexes by name ("dense", "bm25", and "hipporag" when the
            collection has a knowledge graph; fusion, crag and adaptive use it when present).
        settings: the retrieval settings group (with its fusion/crag/router sub-groups).
        context: a `rag.context.RetrievalContext` (chunk texts, CRAG calibration, LLM) for
            fusion, crag and adaptive; without one they run their text-free paths.

    Raises:
        InvalidInputError: for an unknown name.
    """
    if name in ("bm25", "dense"):
        return IndexRetriever(name, indexes[name])
    if name == "hybrid":
        parts = {n: indexes[n] for n in settings.hybrid_weights if n in indexes}
        return HybridRetriever(parts, weights=settings.hybrid_weights, rrf_k=settings.rrf_k,
                               candidates=settings.candidates)
    if name == "hipporag":
        if "hipporag" not in indexes:
            raise InvalidInputError("this collection has no knowledge graph yet")
        return GraphRetriever(indexes["hipporag"])
    if name in ("fusion", "crag", "adaptive"):
        # Imported here: these modules build on Retrieval and HybridRetriever above.
        if name == "fusion":
            from rag.fusion import FusionRetriever

            return FusionRetriever(indexes, settings.fusion, context=context)
        if name == "crag":
            from rag.crag_retriever import build_crag

            return build_crag(indexes, settings, context=context)
        from rag.router import build_adaptive

        return build_adaptive(indexes, settings, context=context)
    raise InvalidInputError(f"unknown retriever {name!r}; choose one of {', '.join(RETRIEVER_NAMES)}")
