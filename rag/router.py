"""Adaptive retrieval: a query-complexity classifier routes each question (Adaptive-RAG).

Adaptive-RAG (Jeong et al., NAACL 2024) trains a small classifier to label a question as
needing no retrieval, single-step retrieval or multi-step retrieval, and runs the matching
strategy. Ours is a hand-set linear score over offline features of the question alone
(entity count, bridge and comparison patterns, question form), so routing costs
microseconds; single-step is the hybrid retriever, multi-step is RAG-Fusion with bridge
hops. "No retrieval" needs a generator that can answer alone; none is configured yet, so
the router never picks it. Every route is reported in the trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from indexes.base import Hit, Retriever, validate_k
from rag.context import RetrievalContext
from rag.query_variants import extract_entities
from rag.retrievers import HybridRetriever, Retrieval, TracingRetriever
from rag.settings import RetrievalSettings

SINGLE, MULTI, NONE = "single", "multi", "none"

# "the director of the film X", "the country where X", "X's father" -> one entity hides another.
_BRIDGE_RE = re.compile(
    r"\b(?:of the|of a|whose|where (?:the|a)?\s*\w+ (?:was|is|were)|which (?:the|a)\s+\w+|"
    r"that (?:the|a)\s+\w+|the (?:person|country|city|company|team|band|performer|artist|"
    r"author|creator|director|producer|founder|spouse|wife|husband|father|mother|son|daughter|"
    r"child|sibling|brother|sister)\b)|\w'?s (?:father|mother|son|daughter|wife|husband|spouse|"
    r"director|creator|author|performer|producer|birthplace|sibling)", re.IGNORECASE)
_COMPARE_RE = re.compile(
    r"\b(?:both|either|neither|same|different|more|less|older|younger|earlier|later|first|"
    r"last|longer|shorter|larger|smaller|bigger|higher|lower|before|after)\b|\bor\b.*\?\s*$",
    re.IGNORECASE)
_WH_RE = re.compile(r"^\s*(who|whom|whose|what|which|when|where|why|how|is|are|was|were|do|"
                    r"does|did|can|could)\b", re.IGNORECASE)


@dataclass(frozen=True)
class QueryFeatures:
    """Offline features of a question."""

    entities: int
    bridge: int
    comparison: int
    words: int
    wh: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the trace."""
        return asdict(self)


def query_features(question: str) -> QueryFeatures:
    """Count what makes a question multi-hop: entities, bridge phrases, comparisons."""
    wh = _WH_RE.match(question)
    return QueryFeatures(entities=len(extract_entities(question)),
                         bridge=len(_BRIDGE_RE.findall(question)),
                         comparison=len(_COMPARE_RE.findall(question)),
                         words=len(question.split()),
                         wh=wh.group(1).lower() if wh else "")


def complexity(features: QueryFeatures) -> float:
    """A 0..1-ish complexity score; higher means more hops are needed (pure).

    Bridge phrases weigh most (a hidden entity must be found first); comparisons of two
    named entities, many entities and long questions add; a yes/no form with one entity
    subtracts.
    """
    score = 0.35 * min(features.bridge, 2) + 0.2 * min(features.comparison, 2)
    score += 0.1 * max(0, min(features.entities, 4) - 1) + 0.01 * max(0, features.words - 10)
    if features.wh in {"is", "are", "was", "were", "do", "does", "did"} and features.entities <= 1:
        score -= 0.2
    return round(score, 4)


def route(features: QueryFeatures, *, threshold: float, can_answer_alone: bool = False) -> str:
    """The strategy for a question: "multi" at or above `threshold`, else "single".

    "none" (answer without retrieval) only when a generator can answer alone and the
    question has no entity and no bridge phrase.
    """
    if can_answer_alone and features.entities == 0 and features.bridge == 0:
        return NONE
    return MULTI if complexity(features) >= threshold else SINGLE


class AdaptiveRetriever:
    """Routes each question to single-step or multi-step retrieval (Adaptive-RAG)."""

    def __init__(self, single: TracingRetriever, multi: TracingRetriever, *, threshold: float,
                 name: str = "adaptive") -> None:
        self.single = single
        self.multi = multi
        self.threshold = threshold
        self.name = name

    def retrieve(self, query: str, k: int) -> Retrieval:
        """Top `k` from the chosen route; the trace carries the route and its features."""
        validate_k(k)
        features = query_features(query)
        chosen = route(features, threshold=self.threshold)
        inner = (self.multi if chosen == MULTI else self.single).retrieve(query, k)
        trace = {**inner.trace, "retriever": self.name, "route": chosen,
                 "routed_to": inner.trace.get("retriever"), "complexity": complexity(features),
                 "features": features.to_dict()}
        return Retrieval(inner.hits, trace)

    def search(self, query: str, k: int) -> list[Hit]:
        """Top `k` from the chosen route."""
        return self.retrieve(query, k).hits


def build_adaptive(indexes: Mapping[str, Retriever], settings: RetrievalSettings, *,
                   context: RetrievalContext | None = None) -> AdaptiveRetriever:
    """Hybrid for single-step, fusion with `router.multi_hops` bridge hops for multi-step."""
    from rag.fusion import FusionRetriever

    parts = {n: indexes[n] for n in settings.hybrid_weights if n in indexes}
    single = HybridRetriever(parts, weights=settings.hybrid_weights, rrf_k=settings.rrf_k,
                             candidates=settings.candidates)
    multi = FusionRetriever(indexes, settings.fusion, context=context,
                            hops=settings.router.multi_hops)
    return AdaptiveRetriever(single, multi, threshold=settings.router.multi_threshold)
