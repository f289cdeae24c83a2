"""The `crag` retriever: retrieve, grade, then refine, re-search or abstain (Yan et al., 2024).

1. The base retriever (hybrid) ranks chunks; the evaluator scores the top `graded`.
2. Correct: keep the ranking; decompose the relevant chunks into sentence strips and keep
   the strips that score, in document order (the trace's `strips`).
3. Incorrect: rewrite the query to keywords and search the other retrievers (bm25,
   hipporag when the collection has it, fusion); grade what they find. Still Incorrect:
   abstain, and list the best candidates. Otherwise fuse the rankings by RRF.
4. Ambiguous: both: fuse the keyword searches in, and refine into strips.

With a generator in the context (the service's configured LLM), the LLM grades the
passages (`rag.retrieval.crag.decisions.llm_grades`) against the settings' thresholds (`crag.json` is fitted
to the offline evaluator's scale, so it applies to the offline path only); when the LLM
fails, the request runs offline and the trace's `llm_error` says why. The trace's `path`
and `crag.evaluator` name the path that ran.

The pure decisions live in `rag.retrieval.crag.decisions`; this module runs them against the indexes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from indexes.base import Hit, Retriever, validate_k
from indexes.rrf import rrf_fuse
from indexes.tokenize import BM25Tokenizer
from rag.errors import RagmemError
from rag.retrieval.base import HybridRetriever, IndexRetriever, Retrieval, TracingRetriever
from rag.retrieval.context import RetrievalContext
from rag.retrieval.crag.decisions import (
    AMBIGUOUS,
    CORRECT,
    INCORRECT,
    Evaluator,
    best_candidates,
    decompose,
    entity_overlap,
    keyword_rewrite,
    llm_grades,
    query_entities,
    recompose,
    strip_scores,
)
from rag.retrieval.fusion import FusionRetriever
from rag.settings import CragSettings, RetrievalSettings


class CragRetriever:
    """Corrective retrieval over a base retriever; see the module docstring."""

    def __init__(self, base: TracingRetriever, fallbacks: Mapping[str, Retriever], *,
                 indexes: Mapping[str, Retriever], evaluator: Evaluator, settings: CragSettings,
                 context: RetrievalContext | None = None, name: str = "crag") -> None:
        self.base = base
        self.fallbacks = dict(fallbacks)
        self.dense = indexes.get("dense")
        self.bm25 = indexes.get("bm25")
        self.evaluator = evaluator
        self.settings = settings
        self.context = context or RetrievalContext()
        self.tokenizer: BM25Tokenizer = getattr(self.bm25, "tokenizer", None) or BM25Tokenizer()
        self.name = name

    @property
    def evaluator_path(self) -> str:
        """"llm" when a generator grades the passages, else "offline"."""
        return "offline" if self.context.generator is None or self.context.texts is None else "llm"

    def judge(self, path: str) -> Evaluator:
        """The thresholds for `path`'s scores: the calibrated evaluator offline; the
        settings' upper/lower for LLM grades (their scale is the prompt's 0-1)."""
        if path == "offline":
            return self.evaluator
        return Evaluator(weights={}, bias=0.0, upper=self.settings.upper, lower=self.settings.lower)

    # -- the evaluator ----------------------------------------------------------
    def query_vector(self, query: str) -> np.ndarray | None:
        """The query's dense embedding (None without a dense index)."""
        embedder = getattr(self.dense, "embedder", None)
        return None if embedder is None else embedder.encode([query])[0]

    def features(self, query: str, chunk_ids: Sequence[int], *,
                 qvec: np.ndarray | None = None) -> list[dict[str, float]]:
        """The evaluator's features of each chunk for `query` (see `rag.retrieval.crag.decisions.FEATURES`)."""
        if not chunk_ids:
            return []
        feats = [{"cosine": 0.0, "bm25": 0.0, "entities": 0.0} for _ in chunk_ids]
        if qvec is not None and hasattr(self.dense, "vectors_for"):
            for f, cos in zip(feats, self.dense.vectors_for(list(chunk_ids)) @ qvec, strict=True):
                f["cosine"] = float(cos)
        if self.bm25 is not None:
            terms = set(self.tokenizer(query))
            found = {h.chunk_id: h.score for h in self.bm25.search(query, 100)}
            for f, cid in zip(feats, chunk_ids, strict=True):
                f["bm25"] = found.get(cid, 0.0) / max(1, len(terms))
        rows = self.context.texts(list(chunk_ids)) if self.context.texts else {}
        entities, terms = query_entities(query), set(self.tokenizer(query))
        for f, cid in zip(feats, chunk_ids, strict=True):
            if cid in rows:
                text = f"{rows[cid].title}\n{rows[cid].text}"
                f["entities"] = entity_overlap(entities, terms, text, set(self.tokenizer(text)))
        return feats

    def grade_chunks(self, query: str, hits: Sequence[Hit], *, qvec: np.ndarray | None = None,
                     path: str | None = None) -> list[float]:
        """Relevance in [0, 1] of each hit: the LLM's grade (path "llm") or the offline
        evaluator's; `path` defaults to `evaluator_path`."""
        if not hits:
            return []
        if (path or self.evaluator_path) == "llm":
            rows = self.context.texts([h.chunk_id for h in hits])
            texts = [f"{rows[h.chunk_id].title}\n{rows[h.chunk_id].text}" if h.chunk_id in rows else ""
                     for h in hits]
            return llm_grades(self.context.generator, query, texts)
        feats = self.features(query, [h.chunk_id for h in hits], qvec=qvec)
        return [self.evaluator.probability(f) for f in feats]

    # -- actions ------------------------------------------------------------------
    def research(self, query: str, graded: Sequence[Hit], depth: int,
                 ) -> tuple[str, list[list[Hit]], list[Hit]]:
        """CRAG's second search: the keyword rewrite on every fallback retriever.

        Returns:
            (the keywords, each fallback's ranking, the best new chunks not in `graded`).
        """
        keywords = keyword_rewrite(query, self.tokenizer)
        rankings = [r.search(keywords, depth) for r in self.fallbacks.values()]
        seen = {h.chunk_id for h in graded}
        fresh = [h for h in rrf_fuse(rankings, k=60) if h.chunk_id not in seen]
        return keywords, rankings, fresh[: self.settings.graded]

    def _strips(self, query: str, hits: Sequence[Hit], scores: Sequence[float],
                qvec: np.ndarray | None, lower: float) -> list[dict[str, Any]]:
        """Decompose the relevant chunks into strips and recompose the ones that score."""
        keep = [h.chunk_id for h, s in zip(hits, scores, strict=False) if s >= lower]
        if not keep or self.context.texts is None or qvec is None:
            return []
        rows = self.context.texts(keep)
        strips = decompose([(c, rows[c].text) for c in keep if c in rows])
        if not strips:
            return []
        titled = [f"{rows[s.chunk_id].title}: {s.text}" for s in strips]
        similarity = self.dense.embedder.encode(titled) @ qvec
        terms = set(self.tokenizer(query))
        overlap = [len(terms & set(self.tokenizer(t))) / max(1, len(terms)) for t in titled]
        kept = recompose(strips, strip_scores(similarity.tolist(), overlap),
                         threshold=self.settings.strip_threshold)
        return [s.to_dict(x) for s, x in kept]

    def retrieve(self, query: str, k: int) -> Retrieval:
        """Graded, corrected top `k`; the trace's `crag` block says what happened."""
        validate_k(k)
        path = self.evaluator_path
        if path == "llm":
            try:
                return self._retrieve(query, k, "llm")
            except RagmemError as exc:  # a failed or malformed grading: run offline instead
                result = self._retrieve(query, k, "offline")
                result.trace["llm_error"] = f"{type(exc).__name__}: {exc}"[:300]
                return result
        return self._retrieve(query, k, path)

    def _retrieve(self, query: str, k: int, path: str) -> Retrieval:
        depth = max(k, self.settings.graded)
        judge = self.judge(path)
        base = self.base.retrieve(query, depth)
        qvec = self.query_vector(query)
        graded = base.hits[: self.settings.graded]
        scores = self.grade_chunks(query, graded, qvec=qvec, path=path)
        label = judge.grade(scores)
        crag: dict[str, Any] = {"label": label, "evaluator": path,
                                "upper": judge.upper, "lower": judge.lower,
                                "scores": [round(s, 4) for s in scores], "abstain": False}
        hits = list(base.hits[:k])
        pool = list(zip([h.chunk_id for h in graded], scores, strict=True))
        if label != CORRECT:
            keywords, rankings, fresh = self.research(query, graded, depth)
            fresh_scores = self.grade_chunks(query, fresh, qvec=qvec, path=path)
            pool += list(zip([h.chunk_id for h in fresh], fresh_scores, strict=True))
            crag.update(rewrite=keywords, searched=list(self.fallbacks),
                        fallback_scores=[round(s, 4) for s in fresh_scores])
            if label == INCORRECT and judge.grade(fresh_scores) == INCORRECT:
                best = best_candidates(pool, k)
                crag.update(abstain=True, candidates=[c for c, _ in best])
                return Retrieval([Hit(c, s, self.name) for c, s in best],
                                 self._trace(base, crag, path))
            hits = rrf_fuse([base.hits, *rankings], k=60, limit=k, source=self.name)
            crag["final_label"] = AMBIGUOUS if label == AMBIGUOUS else judge.grade(fresh_scores)
        score_of = dict(pool)
        crag["strips"] = self._strips(query, hits, [score_of.get(h.chunk_id, 0.0) for h in hits],
                                      qvec, judge.lower)
        return Retrieval(hits, self._trace(base, crag, path))

    def _trace(self, base: Retrieval, crag: dict[str, Any], path: str) -> dict[str, Any]:
        return {"retriever": self.name, "path": path, "base": base.trace, "crag": crag}

    def search(self, query: str, k: int) -> list[Hit]:
        """Corrected top `k`."""
        return self.retrieve(query, k).hits


def build_crag(indexes: Mapping[str, Retriever], settings: RetrievalSettings, *,
               context: RetrievalContext | None = None, name: str = "crag") -> CragRetriever:
    """A CRAG retriever over hybrid, with its fallbacks and the collection's calibration."""
    context = context or RetrievalContext()
    crag = settings.crag
    defaults = Evaluator(weights=crag.weights, bias=crag.bias, upper=crag.upper, lower=crag.lower)
    evaluator = Evaluator.from_mapping(context.calibration, defaults)
    parts = {n: indexes[n] for n in settings.hybrid_weights if n in indexes}
    base = HybridRetriever(parts, weights=settings.hybrid_weights, rrf_k=settings.rrf_k,
                           candidates=settings.candidates)
    fallbacks: dict[str, Retriever] = {}
    for fb in crag.fallback:
        if fb == "fusion":
            fallbacks[fb] = FusionRetriever(indexes, settings.fusion, context=context)
        elif fb in indexes:  # bm25, dense, hipporag when present
            fallbacks[fb] = IndexRetriever(fb, indexes[fb])
    return CragRetriever(base, fallbacks, indexes=indexes, evaluator=evaluator, settings=crag,
                         context=context, name=name)
