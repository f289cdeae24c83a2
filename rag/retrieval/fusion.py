"""RAG-Fusion: several query variants x several indexes, fused by weighted RRF.

RAG-Fusion (Rackauckas, "RAG-Fusion: a New Take on Retrieval-Augmented Generation",
2024) asks an LLM for query reformulations, searches with each and fuses the rankings
with Reciprocal Rank Fusion (Cormack et al., 2009). With no LLM the variants come from
pseudo-relevance feedback (RM3, Abdul-Jaleel et al., 2004) and from IRCoT-style bridge
hops (Trivedi et al., 2023): entities of the passages found so far, joined with what the
question still asks, retrieve the next hop. The original query is always a variant.

A ranking's RRF weight is its variant's weight times its index's weight. The trace's
`path` says which variants ran: "llm" (the injected generator's `generate_json` wrote
them) or "offline" (PRF + bridge hops, also when the LLM failed: `llm_error` says why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from indexes.base import Hit, Retriever, validate_k
from indexes.rrf import rrf_fuse
from indexes.tokenize import BM25Tokenizer
from rag.errors import RagmemError
from rag.retrieval.base import Retrieval
from rag.retrieval.context import RetrievalContext
from rag.retrieval.query_variants import (
    QueryVariant,
    bridge_entities,
    bridge_query,
    llm_variants,
    prf_query,
    rm3_terms,
    surface_terms,
)
from rag.settings import FusionSettings

Ranking = tuple[float, list[Hit]]


def index_weights(available: Mapping[str, Retriever], wanted: Mapping[str, float]) -> dict[str, float]:
    """The weights of the wanted indexes that the collection has (e.g. `hipporag` if built).

    Raises:
        ValueError: when none of the wanted indexes is available.
    """
    weights = {name: float(w) for name, w in wanted.items() if name in available and w > 0}
    if not weights:
        raise ValueError(f"none of the indexes {sorted(wanted)} is available "
                         f"(have {sorted(available)})")
    return weights


def fuse_rankings(rankings: Sequence[Ranking], *, k: int, limit: int | None,
                  source: str) -> list[Hit]:
    """Weighted RRF over (weight, ranking) pairs (pure)."""
    return rrf_fuse([r for _, r in rankings], k=k, weights=[w for w, _ in rankings],
                    limit=limit, source=source)


class FusionRetriever:
    """Query variants x indexes, fused by weighted RRF; see the module docstring."""

    def __init__(self, indexes: Mapping[str, Retriever], settings: FusionSettings, *,
                 context: RetrievalContext | None = None, hops: int | None = None,
                 name: str = "fusion") -> None:
        self.weights = index_weights(indexes, settings.index_weights)
        self.indexes = {n: indexes[n] for n in self.weights}
        self.settings = settings
        self.context = context or RetrievalContext()
        self.hops = settings.hops if hops is None else hops
        if not 0 <= self.hops <= 2:
            raise ValueError(f"hops must be 0, 1 or 2, got {self.hops!r}")
        self.name = name
        bm25 = indexes.get("bm25")
        self.tokenizer: BM25Tokenizer = getattr(bm25, "tokenizer", None) or BM25Tokenizer()

    @property
    def variant_source(self) -> str:
        """"llm" when a generator is injected and allowed, else "offline"."""
        if self.settings.source == "offline" or self.context.generator is None:
            return "offline"
        return "llm"

    # -- searching ------------------------------------------------------------
    def _search(self, variants: Sequence[QueryVariant]) -> list[Ranking]:
        """Every variant on every index; dense queries are embedded in one batch."""
        depth = self.settings.candidates
        out: list[Ranking] = []
        for name, index in self.indexes.items():
            embedder = getattr(index, "embedder", None)
            if embedder is not None and hasattr(index, "search_vector") and len(variants) > 1:
                vectors = embedder.encode([v.text for v in variants])
                hits = [index.search_vector(vec, depth) for vec in vectors]
            else:
                hits = [index.search(v.text, depth) for v in variants]
            out.extend((v.weight * self.weights[name], h) for v, h in zip(variants, hits, strict=True))
        return out

    def _texts(self, hits: Sequence[Hit]) -> list[tuple[int, str, str]]:
        """(chunk id, title, text) of `hits` that the context can look up, in order."""
        if self.context.texts is None or not hits:
            return []
        rows = self.context.texts([h.chunk_id for h in hits])
        return [(h.chunk_id, rows[h.chunk_id].title, rows[h.chunk_id].text)
                for h in hits if h.chunk_id in rows]

    # -- variants -------------------------------------------------------------
    def _prf_variant(self, query: str, fused: Sequence[Hit]) -> QueryVariant | None:
        top = fused[: self.settings.prf_docs]
        docs = self._texts(top)
        if not docs:
            return None
        stems, surface = [], {}
        for _, title, text in docs:
            terms, words = surface_terms(f"{title}\n{text}", self.tokenizer)
            stems.append(terms)
            for stem, word in words.items():
                surface.setdefault(stem, word)
        score_of = {h.chunk_id: h.score for h in top}
        terms = rm3_terms(self.tokenizer(query), stems, [score_of[c] for c, _, _ in docs],
                          n_terms=self.settings.prf_terms, min_docs=min(2, len(docs)))
        if not terms:
            return None
        return QueryVariant(prf_query(query, terms, surface), "prf", self.settings.prf_weight)

    def _bridge_hops(self, query: str, fused: Sequence[Hit]) -> tuple[list[QueryVariant], list[Ranking]]:
        variants: list[QueryVariant] = []
        rankings: list[Ranking] = []
        frontier = self._texts(fused[: self.settings.bridge_passages])
        used: list[str] = []
        for hop in range(1, self.hops + 1):
            if not frontier:
                break
            found = bridge_entities(query, [(t, x) for _, t, x in frontier],
                                    limit=self.settings.bridge_entities, tokenizer=self.tokenizer,
                                    exclude=used)
            hop_variants = [QueryVariant(bridge_query(e, query, frontier[i][2], self.tokenizer),
                                         "bridge", self.settings.bridge_weight / hop, hop)
                            for e, i in found]
            if not hop_variants:
                break
            used.extend(e for e, _ in found)
            hop_rankings = self._search(hop_variants)
            variants.extend(hop_variants)
            rankings.extend(hop_rankings)
            frontier = self._texts(self._next_frontier(hop_variants, hop_rankings, frontier))
        return variants, rankings

    def _next_frontier(self, variants: Sequence[QueryVariant], rankings: Sequence[Ranking],
                       frontier: Sequence[tuple[int, str, str]]) -> list[Hit]:
        """The best new passage of each bridge query (fused over indexes)."""
        seen = {c for c, _, _ in frontier}
        per_variant = len(rankings) // max(1, len(variants))
        best: list[Hit] = []
        for n in range(len(variants)):
            mine = [rankings[n + i * len(variants)] for i in range(per_variant)]
            for hit in fuse_rankings(mine, k=self.settings.rrf_k, limit=3, source=self.name):
                if hit.chunk_id not in seen:
                    seen.add(hit.chunk_id)
                    best.append(hit)
                    break
        return best

    # -- the retriever --------------------------------------------------------
    def retrieve(self, query: str, k: int) -> Retrieval:
        """Fused top `k` over every variant and index, with the variants in the trace."""
        validate_k(k)
        source = self.variant_source
        variants = [QueryVariant(query, "original", 1.0)]
        error = None
        if source == "llm":
            try:
                texts = llm_variants(self.context.generator, query, self.settings.variants)
            except RagmemError as exc:  # a bad or failed reply: run the offline variants
                source, error = "offline", f"{type(exc).__name__}: {exc}"[:300]
            else:
                variants += [QueryVariant(t, "llm", self.settings.llm_weight) for t in texts]
        rankings = self._search(variants)
        fused = fuse_rankings(rankings, k=self.settings.rrf_k, limit=None, source=self.name)
        if source == "offline" and self.settings.prf_terms > 0:
            prf = self._prf_variant(query, fused)
            if prf is not None:
                variants.append(prf)
                rankings += self._search([prf])
        if self.hops:
            more, extra = self._bridge_hops(query, fused)
            variants += more
            rankings += extra
        hits = fuse_rankings(rankings, k=self.settings.rrf_k, limit=k, source=self.name)
        trace = self.trace(source, variants)
        if error is not None:
            trace["llm_error"] = error
        return Retrieval(hits, trace)

    def trace(self, source: str, variants: Sequence[QueryVariant]) -> dict[str, Any]:
        """The `retrieval` block: variants, their source (also as `path`), indexes, weights."""
        return {"retriever": self.name, "path": source, "variant_source": source,
                "variants": [v.to_dict() for v in variants], "indexes": self.weights,
                "rrf_k": self.settings.rrf_k, "hops": self.hops,
                "texts": self.context.texts is not None}

    def search(self, query: str, k: int) -> list[Hit]:
        """Fused top `k`."""
        return self.retrieve(query, k).hits
