"""Adaptive retrieval: a query-complexity classifier routes each question (Adaptive-RAG).

Adaptive-RAG (Jeong et al., NAACL 2024) trains a small classifier to label a question as
needing no retrieval, single-step retrieval or multi-step retrieval, and runs the matching
strategy. Ours is a hand-set rule over offline features of the question alone (entity
count, bridge and comparison patterns, question form) giving a level 0-2, so routing costs
microseconds: level 0 is single-step (hybrid), levels 1 and 2 are multi-step (RAG-Fusion
with `level_hops` IRCoT-style bridge hops, 1 and 2 by default).

A single-step answer is then checked, as Adaptive-RAG's fallback to a stronger strategy
and CRAG's retrieval check do: when the top `verify_depth` passages do not mention every
entity the question names (e.g. a comparison whose second candidate was not found), the
question is escalated to level 1. The check is a pure function of the entities and the
passages' text (`missing_entities`). "No retrieval" needs a generator that can answer
alone; the router never picks it yet. Every route is reported in the trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from indexes.base import Hit, Retriever, validate_k
from rag.retrieval.base import HybridRetriever, Retrieval, TracingRetriever
from rag.retrieval.context import ChunkTexts, RetrievalContext
from rag.retrieval.fusion import FusionRetriever
from rag.retrieval.query_variants import extract_entities
from rag.settings import RetrievalSettings

SINGLE, MULTI, NONE = "single", "multi", "none"

# A relation that hides an entity: "the director of", "the country where", "X's father",
# "the state that borders", "the company ... is part of".
_GRAND_RE = re.compile(r"\bgrand(?:father|mother|son|daughter|parent|child)", re.IGNORECASE)
_BRIDGE_RE = re.compile(
    r"\b[Tt]he (?:[a-z]+ ){0,2}?(?:of|where|which|that|whose|who|in which|on which|at which)\b|"
    r"\w'?s (?:father|mother|son|daughter|wife|husband|spouse|child|sibling|brother|sister|"
    r"director|creator|author|performer|producer|composer|birthplace|"
    r"team|country|city|state|university|company)\b|"
    r"\b(?:where|which|whose|that) (?:\w+ ){0,4}?(?:is|was|were|are|did|does)\b")
# "..., X or Y?" and comparatives: the two candidates are named in the question.
_COMPARE_RE = re.compile(
    r",[^,]+\bor\b[^,]+\?\s*$|\b(?:both|same|older|younger|earlier|later|first|longer|"
    r"shorter|larger|smaller|bigger|higher|lower|more recently)\b", re.IGNORECASE)
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
                         bridge=len(_BRIDGE_RE.findall(question)) + len(_GRAND_RE.findall(question)),
                         comparison=len(_COMPARE_RE.findall(question)),
                         words=len(question.split()),
                         wh=wh.group(1).lower() if wh else "")


def complexity(features: QueryFeatures) -> int:
    """Adaptive-RAG's complexity level of a question (pure): 0, 1 or 2.

    0: single-step suffices: a comparison whose candidates are both named and no relation
    hides an entity, or a short question about one entity with no bridge; 1: one hidden
    entity (a two-hop question); 2: two or more hidden entities (a relation applied to
    each of two compared candidates hides two, or "grand" relations: X's father's father).
    """
    if features.bridge == 0 and features.comparison and features.entities >= 2:
        return 0
    if features.bridge == 0 and features.entities <= 1 and features.words <= 8:
        return 0
    hidden = features.bridge
    if features.comparison and features.entities >= 2:  # one hidden entity per candidate
        hidden *= 2
    return 1 if hidden <= 1 else 2


def _normalized(text: str) -> str:
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def missing_entities(entities: Sequence[str], passages: Sequence[str]) -> list[str]:
    """The entities that no passage mentions (pure): case and punctuation are ignored and
    an entity must match whole words ("Ann" is not in "annual")."""
    texts = [_normalized(p) for p in passages]
    return [e for e in entities if _normalized(e).strip() and
            not any(_normalized(e) in t for t in texts)]


def route(features: QueryFeatures, *, can_answer_alone: bool = False) -> tuple[str, int]:
    """The strategy for a question and its complexity level.

    ("none", 0) only when a generator can answer alone and the question names nothing;
    ("single", 0) at level 0; ("multi", level) otherwise.
    """
    if can_answer_alone and features.entities == 0 and features.bridge == 0:
        return NONE, 0
    level = complexity(features)
    return (SINGLE, 0) if level == 0 else (MULTI, level)


class AdaptiveRetriever:
    """Routes each question to single-step or multi-step retrieval (Adaptive-RAG)."""

    def __init__(self, single: TracingRetriever, multi: Mapping[int, TracingRetriever], *,
                 texts: ChunkTexts | None = None, verify_depth: int = 5,
                 name: str = "adaptive") -> None:
        if not {1, 2} <= set(multi):
            raise ValueError(f"need a multi-step retriever for levels 1 and 2, got {sorted(multi)}")
        if verify_depth < 0:
            raise ValueError(f"verify_depth must be >= 0, got {verify_depth!r}")
        self.single = single
        self.multi = dict(multi)
        self.texts = texts
        self.verify_depth = verify_depth
        self.name = name

    def retrieve(self, query: str, k: int) -> Retrieval:
        """Top `k` from the chosen route; the trace carries the route, its features and,
        for single-step, the check (`verify`: the named entities the passages missed)."""
        validate_k(k)
        features = query_features(query)
        chosen, level = route(features)
        verify: dict[str, Any] | None = None
        if chosen == SINGLE:
            result = self.single.retrieve(query, max(k, self.verify_depth))
            missing = self._missing(query, result)
            if missing is not None:
                verify = {"depth": self.verify_depth, "missing": missing, "escalated": bool(missing)}
            if missing:  # single-step did not find every named entity: one more step
                chosen, level = MULTI, 1
            else:
                result = Retrieval(result.hits[:k], result.trace)
        if chosen == MULTI:
            result = self.multi[level].retrieve(query, k)
        trace = {**result.trace, "retriever": self.name, "route": chosen, "level": level,
                 "routed_to": result.trace.get("retriever"), "features": features.to_dict(),
                 "path": result.trace.get("path", "offline")}
        if verify is not None:
            trace["verify"] = verify
        return Retrieval(result.hits, trace)

    def _missing(self, query: str, result: Retrieval) -> list[str] | None:
        """The named entities the top `verify_depth` passages miss; None when unchecked."""
        if self.texts is None or self.verify_depth == 0:
            return None
        ids = [h.chunk_id for h in result.hits[: self.verify_depth]]
        rows = self.texts(ids)
        passages = [f"{rows[c].title}\n{rows[c].text}" for c in ids if c in rows]
        return missing_entities(extract_entities(query), passages)

    def search(self, query: str, k: int) -> list[Hit]:
        """Top `k` from the chosen route."""
        return self.retrieve(query, k).hits


def build_adaptive(indexes: Mapping[str, Retriever], settings: RetrievalSettings, *,
                   context: RetrievalContext | None = None) -> AdaptiveRetriever:
    """Hybrid for level 0 (checked, see the module docstring); fusion with
    `router.level_hops[level]` bridge hops for 1 and 2."""
    parts = {n: indexes[n] for n in settings.hybrid_weights if n in indexes}
    single = HybridRetriever(parts, weights=settings.hybrid_weights, rrf_k=settings.rrf_k,
                             candidates=settings.candidates)
    hops = {level: settings.router.level_hops.get(level, settings.fusion.hops) for level in (1, 2)}
    multi = {level: FusionRetriever(indexes, settings.fusion, context=context, hops=h)
             for level, h in hops.items()}
    return AdaptiveRetriever(single, multi, texts=context.texts if context else None,
                             verify_depth=settings.router.verify_depth)
