"""The retriever interface (`retrieve(query, k) -> Retrieval`) and the index retrievers.

`bm25` and `dense` search one index; `hipporag` walks the knowledge graph; `hybrid` fuses
them by weighted Reciprocal Rank Fusion. `rag.retrieval.factory` builds any of them by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, runtime_checkable

from indexes.base import Hit, Retriever, validate_k
from indexes.rrf import rrf_fuse
from rag.errors import InvalidInputError
from rag.generation.answers import Passage
from rag.retrieval.evidence import Abstention, abstention_of

RetrieverName = Literal["bm25", "dense", "hybrid", "hipporag", "fusion", "crag", "adaptive"]
RETRIEVER_NAMES: tuple[str, ...] = get_args(RetrieverName)
LLM_RETRIEVERS = ("fusion", "crag", "adaptive")
"""Retrievers that use the configured LLM's JSON output when there is one."""


def check_retriever_name(name: str) -> str:
    """`name` when it is a retriever's, else an InvalidInputError listing them all."""
    if name not in RETRIEVER_NAMES:
        raise InvalidInputError(
            f"unknown retriever {name!r}; choose one of {', '.join(RETRIEVER_NAMES)}")
    return name


@dataclass(frozen=True)
class Retrieval:
    """Ranked hits plus a trace of how they were found (the response's `retrieval` block)."""

    hits: list[Hit]
    trace: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetrievedPassages:
    """What a question retrieves: passages hydrated from the store, best first, and the
    trace (the `retrieval` block of responses; `top_k` and `latency_ms` added)."""

    passages: list[Passage]
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def abstention(self) -> Abstention | None:
        """Why the answer should abstain (the evidence check's or CRAG's verdict in the
        trace), None when it may be written."""
        return abstention_of(self.trace)

    @property
    def abstained(self) -> bool:
        """True when the answer should abstain (see `abstention`)."""
        return self.abstention is not None


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
