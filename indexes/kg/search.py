"""The KG index's search: seeds from the question, PPR walks, bridge hops, comparison slots.

One walk is HippoRAG's (see `indexes.kg.index`). Then, IRCoT-style without an LLM
(`indexes.kg.hops`): the entities of the top passages that the question does not name,
scored by how similar their facts are to the question, seed another walk with a decayed
weight, until the evidence covers the question or `max_hops` walks ran. Comparison
questions ("..., X or Y?") keep each named entity's best passage in the evidence window.
The trace's `hops` lists each walk's seeds and the passages it brought into the top k.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexes.base import Hit, validate_k
from indexes.kg import hops as hoplib
from indexes.kg import linking
from indexes.kg.openie import normalize_entity, normalize_phrase
from indexes.kg.ppr import personalized_pagerank, transition_matrix
from indexes.kg.settings import MODES


@dataclass
class Seeding:
    """A walk's restart weights and where they came from."""

    phrases: dict[int, float]  # phrase id -> restart weight
    passages: dict[int, float]  # chunk id -> restart weight (dense prior, titles)
    question: set[int]  # phrase ids linked from the question
    dense: dict[int, float] = field(default_factory=dict)  # chunk id -> dense cosine


class GraphSearch:
    """Search methods of `KnowledgeGraphIndex` (a mixin: it supplies graph and settings)."""

    name = "hipporag"
    graph: Any
    settings: Any
    embedder: Any
    dense: Any
    openie: Any
    mode: str
    _ppr_cache: tuple[int, Any] | None
    _titles_cache: tuple[int, dict[int, list[int]]] | None

    def count(self) -> int:  # supplied by the index
        raise NotImplementedError

    def _embed(self, texts: list[str]) -> np.ndarray:  # supplied by the index
        raise NotImplementedError

    def search(self, query: str, k: int) -> list[Hit]:
        """Top `k` passages by Personalized PageRank from the question's seeds."""
        return self.search_with_trace(query, k)[0]

    def search_with_trace(self, query: str, k: int) -> tuple[list[Hit], dict[str, Any]]:
        """Like `search`, also returning what the walks started from.

        Returns:
            `(hits, trace)`; the trace holds `mode`, `query_entities`, `seeds` (phrase and
            weight, best first), `facts` (triple and score), `hops` (per walk: `seeds`
            with the passage each bridge came from, `new` passages in the top k),
            `comparison` (named parts and their passages) when reserved,
            `fallback_dense` and `ppr_ms` (all walks).
        """
        validate_k(k)
        trace: dict[str, Any] = {"mode": self.mode, "query_entities": [], "seeds": [],
                                 "facts": [], "fallback_dense": False}
        if self.settings.mode == "auto":
            trace["mode_setting"] = "auto"
        if self.count() == 0:
            return [], trace
        qvec = self.embedder.encode([query])[0]
        seeding = self._seeding(query, qvec, trace)
        if seeding is None:
            trace["fallback_dense"] = True
            dense = self.dense.search_vector(qvec, k) if self.dense is not None else []
            return [Hit(h.chunk_id, h.score, self.name) for h in dense], trace
        trace["ppr_ms"] = 0.0
        scores = self._hops(seeding, qvec, k, trace, query)
        _, _, _, passage_ids = self._operator()
        ranked = [int(passage_ids[i]) for i in np.argsort(-scores, kind="stable")]
        window = self.settings.evidence_window
        if self.settings.comparison and window > 0:
            required = self._comparison_passages(query, qvec, scores, trace)
            ranked = hoplib.reserve_slots(ranked, required, window)  # (a bridge may rank low)
        score_of = dict(zip(passage_ids.tolist(), scores.tolist(), strict=True))
        return [Hit(cid, float(score_of[cid]), self.name) for cid in ranked[:k]], trace

    def personalization(self, query: str) -> np.ndarray | None:
        """The first walk's PPR restart vector for `query` (rows as in `graph.matrix()`),
        or None when nothing seeds the walk (the dense fallback).

        For benchmarks that compare the walk with another PageRank implementation.
        """
        if self.count() == 0:
            return None
        seeding = self._seeding(query, self.embedder.encode([query])[0], {})
        return None if seeding is None else self._reset(seeding)

    def pagerank(self, reset: np.ndarray) -> np.ndarray:
        """Scores of every node (rows of `graph.matrix()`) for a restart vector, by the
        walk `search` runs on the cached CSR operator."""
        transition_t, dangling, _, _ = self._operator()
        return personalized_pagerank(transition_t, dangling, reset,
                                     damping=self.settings.damping, tol=self.settings.ppr_tol,
                                     max_iter=self.settings.ppr_max_iter)

    # -- walks ----------------------------------------------------------------
    def _passage_scores(self, seeding: Seeding, trace: dict[str, Any]) -> np.ndarray:
        transition_t, _, _, passage_ids = self._operator()
        start = time.perf_counter()
        scores = self.pagerank(self._reset(seeding))
        trace["ppr_ms"] = round(trace.get("ppr_ms", 0.0) + (time.perf_counter() - start) * 1000, 3)
        return scores[transition_t.shape[0] - len(passage_ids):]

    def _hops(self, seeding: Seeding, qvec: np.ndarray, k: int,
              trace: dict[str, Any], query: str = "") -> np.ndarray:
        """Walk, then walk again from bridge entities until the evidence covers the question."""
        g = self.graph
        _, _, _, passage_ids = self._operator()
        s = self.settings
        scores = self._passage_scores(seeding, trace)
        top = [int(passage_ids[i]) for i in np.argsort(-scores, kind="stable")[:k]]
        hops = [{"seeds": [g.phrase_text[p] for p in sorted(
            seeding.question, key=lambda p: -seeding.phrases.get(p, 0.0))][:20], "new": top}]
        trace["hops"] = hops
        titles = self._title_phrases()
        known = set(seeding.phrases)
        mined: set[int] = set()
        frontier = top
        for hop in range(1, s.max_hops):
            # IRCoT's next thought reads the newest evidence: the best passages the last
            # walk brought in (the first walk: its top), not the ones already mined.
            evidence = hoplib.frontier(frontier, top, mined, s.hop_passages)
            mined.update(evidence)
            bridges = hoplib.bridge_entities(
                evidence, lambda cid: g.passages[cid].phrases, known,
                relevance=self._bridge_relevance(qvec), titled=titles, limit=s.hop_entities)
            held = {p for cid in evidence for p in g.passages[cid].phrases}
            if not bridges or hoplib.evidence_covers(seeding.question, held,
                                                     [b for b, _ in bridges]):
                break
            weight = hoplib.hop_weight(s.hop_decay, hop)
            best = bridges[0][1]
            origin = {}
            for pid, score in bridges:
                w = weight * score / best
                seeding.phrases[pid] = seeding.phrases.get(pid, 0.0) + w * g.specificity(pid)
                for cid in titles.get(pid, ()):
                    seeding.passages[cid] = (seeding.passages.get(cid, 0.0)
                                             + w * s.title_seed_weight / len(titles[pid]))
                origin[pid] = next(c for c in evidence if pid in g.passages[c].phrases)
                known.add(pid)
            requery = ""
            if s.hop_requery > 0 and query and self.dense is not None:
                # IRCoT's next retrieval reads the question with the new entities: its
                # dense scores join the passage restarts (musique R@5 0.776 -> 0.791)
                requery = " ".join([query, *(g.phrase_text[p] for p, _ in bridges)])
                prior = self._dense_prior(self._dense_scores(self._embed([requery])[0]))
                for cid, w in prior.items():
                    seeding.passages[cid] = seeding.passages.get(cid, 0.0) + s.hop_requery * w
            scores = self._passage_scores(seeding, trace)
            new_top = [int(passage_ids[i]) for i in np.argsort(-scores, kind="stable")[:k]]
            hops.append({"seeds": [{"phrase": g.phrase_text[p], "weight": round(w, 6),
                                    "from": origin[p]} for p, w in bridges],
                         "new": [c for c in new_top if c not in top],
                         **({"requery": requery} if requery else {})})
            frontier = hops[-1]["new"]
            top = new_top
        return scores

    def _bridge_relevance(self, qvec: np.ndarray) -> Any:
        """`(phrase, passage) -> score`: the best cosine to the question of the passage's
        facts that hold the phrase, floored at `hop_min_relevance` (a bridge without a
        fact still counts, as the weakest)."""
        g = self.graph
        floor = self.settings.hop_min_relevance
        cache: dict[int, dict[int, float]] = {}

        def per_passage(cid: int) -> dict[int, float]:
            if cid not in cache:
                facts = g.passages[cid].facts
                sims = g.fact_vecs.vectors[facts] @ qvec if facts else np.zeros(0)
                best: dict[int, float] = {}
                for fid, sim in zip(facts, sims.tolist(), strict=True):
                    subj, _, obj = g.fact_triple[fid]
                    for text in (subj, obj):
                        pid = g.phrase_id[text]
                        best[pid] = max(best.get(pid, 0.0), float(sim))
                cache[cid] = best
            return cache[cid]

        return lambda pid, cid: max(per_passage(cid).get(pid, 0.0), floor)

    def _comparison_passages(self, query: str, qvec: np.ndarray, scores: np.ndarray,
                             trace: dict[str, Any]) -> list[int]:
        """The best-scored passage titled by each entity a comparison question names,
        then, per entity, the passage of its best bridge ("the director who died later,
        A or B?": each film's director), so both chains are in the evidence window."""
        titles = self._title_phrases()
        lookup = self.graph.phrase_id

        def title_of(part: str) -> int | None:
            pid = lookup.get(normalize_entity(part))
            if pid is None or pid not in titles:
                pid = lookup.get(normalize_phrase(part))
            return pid if pid is not None and pid in titles else None

        parts = hoplib.comparison_parts(query, lambda p: title_of(p) is not None)
        if not parts:
            return []
        _, _, _, passage_ids = self._operator()
        score_of = dict(zip(passage_ids.tolist(), scores.tolist(), strict=True))
        required = []
        for part in parts:
            pid = title_of(part)
            if pid is not None:
                required.append(max(titles[pid], key=lambda c: score_of.get(c, 0.0)))
        bridged = self._comparison_bridges(required, qvec, score_of) if self.settings.comparison_bridges else []
        trace["comparison"] = {"parts": parts, "passages": required, "bridges": bridged}
        return required + [cid for _, cid in bridged]

    def _comparison_bridges(self, sources: list[int], qvec: np.ndarray,
                            score_of: dict[int, float]) -> list[tuple[str, int]]:
        """(bridge phrase, its best-scored passage) for each source passage: the phrase
        of that passage most relevant to the question that titles another passage."""
        g, titles = self.graph, self._title_phrases()
        known = {p for cid in sources for p in g.passages[cid].titles}
        relevance = self._bridge_relevance(qvec)
        out = []
        for cid in sources:
            found = hoplib.bridge_entities([cid], lambda c: g.passages[c].phrases, known,
                                           relevance=relevance, titled=titles, limit=1)
            if found:
                target = max(titles[found[0][0]], key=lambda c: score_of.get(c, 0.0))
                if target not in sources:
                    out.append((g.phrase_text[found[0][0]], target))
        return out

    # -- seeds ----------------------------------------------------------------
    def _reset(self, seeding: Seeding) -> np.ndarray:
        transition_t, _, row_of, passage_ids = self._operator()
        n_phrases = transition_t.shape[0] - len(passage_ids)
        reset = np.zeros(transition_t.shape[0])
        for pid, weight in seeding.phrases.items():
            reset[row_of[pid]] += weight
        if seeding.passages:
            row_of_passage = {int(c): n_phrases + n for n, c in enumerate(passage_ids)}
            for cid, weight in seeding.passages.items():
                if cid in row_of_passage:
                    reset[row_of_passage[cid]] += weight
        return reset

    def _seeding(self, query: str, qvec: np.ndarray, trace: dict[str, Any]) -> Seeding | None:
        use_ents, use_ngrams, use_facts, use_prior = MODES[self.mode]
        seeds: dict[int, float] = {}
        exact: set[int] = set()
        if use_ents or use_ngrams:
            seeds, exact = self._entity_seeds(query, trace, entities=use_ents, ngrams=use_ngrams)
        question = set(seeds)
        if use_facts:
            for pid, weight in self._fact_seeds(qvec, trace).items():
                seeds[pid] = seeds.get(pid, 0.0) + self.settings.fact_weight * weight
        if not seeds:
            return None
        dense = self._dense_scores(qvec) if use_prior else {}
        prior = self._dense_prior(dense)
        for cid, weight in self._title_passages(exact).items():
            prior[cid] = prior.get(cid, 0.0) + weight
        g = self.graph
        trace["seeds"] = [{"phrase": g.phrase_text[p], "weight": round(w, 6)} for p, w in
                          sorted(seeds.items(), key=lambda item: -item[1])[:20]]
        return Seeding(seeds, prior, question, dense)

    def _title_phrases(self) -> dict[int, list[int]]:
        """Title phrase id -> the passages it titles (cached per graph version)."""
        g = self.graph
        if self._titles_cache is None or self._titles_cache[0] != g.version:
            titles: dict[int, list[int]] = {}
            for cid, entry in g.passages.items():
                for pid in entry.titles:
                    titles.setdefault(pid, []).append(cid)
            self._titles_cache = (g.version, titles)
        return self._titles_cache[1]

    def _title_passages(self, seeds: set[int]) -> dict[int, float]:
        """Passages titled by an exactly matched seed phrase get `title_seed_weight`."""
        weight = self.settings.title_seed_weight
        if weight <= 0:
            return {}
        titles = self._title_phrases()
        out: dict[int, float] = {}
        for pid in seeds:
            for cid in titles.get(pid, ()):
                out[cid] = out.get(cid, 0.0) + weight / len(titles[pid])
        return out

    def _entity_seeds(self, query: str, trace: dict[str, Any], *, entities: bool,
                      ngrams: bool) -> tuple[dict[int, float], set[int]]:
        g = self.graph
        linked: list[tuple[int, float]] = []
        if ngrams:
            titles = self._title_phrases()
            matches = linking.ngram_matches(
                normalize_phrase(query).split(), g.phrase_id,
                accept=lambda pid, size: size >= 2 or pid in titles,
                max_len=self.settings.ngram_max_len)
            linked += [(pid, 1.0) for _, pid in matches]
        if entities:
            mentions = self.openie.query_entities(query)
            trace["query_entities"] = mentions
            exact = [g.phrase_id[m] for m in mentions if m in g.phrase_id]
            linked += [(pid, 1.0) for pid in exact]
            unseen = [m for m in mentions if m not in g.phrase_id]
            if unseen:
                ids, sims = linking.nearest_rows(self._embed(unseen), g.phrase_vecs.vectors,
                                                 g.phrase_vecs.alive, self.settings.link_top_k)
                linked += [(int(i), float(s)) for row_i, row_s in zip(ids, sims, strict=True)
                           for i, s in zip(row_i, row_s, strict=True)
                           if s >= self.settings.link_min_similarity]
        exact_ids = {pid for pid, sim in linked if sim >= 1.0}
        return linking.entity_seeds(linked, g.specificity), exact_ids

    def _fact_seeds(self, qvec: np.ndarray, trace: dict[str, Any]) -> dict[int, float]:
        g = self.graph
        if not g.fact_id:
            return {}
        ids, sims = linking.nearest_rows(qvec[None, :], g.fact_vecs.vectors, g.fact_vecs.alive,
                                         self.settings.top_facts)
        facts = [(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True)]
        trace["facts"] = [{"triple": list(g.fact_triple[f]), "score": round(s, 6)}
                          for f, s in facts]

        def ends(fid: int) -> tuple[int, int]:
            s, _, o = g.fact_triple[fid]
            return g.phrase_id[s], g.phrase_id[o]

        return linking.fact_seeds(facts, ends, g.specificity)

    def _dense_scores(self, qvec: np.ndarray) -> dict[int, float]:
        """Chunk id -> dense cosine for the top `dense_prior_top_n` passages."""
        if self.dense is None or self.settings.dense_prior_weight <= 0:
            return {}
        hits = self.dense.search_vector(qvec, min(self.settings.dense_prior_top_n,
                                                  max(1, self.dense.count())))
        return {h.chunk_id: float(h.score) for h in hits}

    def _dense_prior(self, dense: dict[int, float]) -> dict[int, float]:
        """HippoRAG 2's passage restarts: min-max scaled dense scores x the prior weight."""
        if not dense:
            return {}
        scores = linking.minmax(np.array(list(dense.values())))
        weight = self.settings.dense_prior_weight
        return {cid: weight * float(s) for cid, s in zip(dense, scores, strict=True)}

    def _operator(self) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        g = self.graph
        if self._ppr_cache is None or self._ppr_cache[0] != g.version:
            adjacency, row_of, passage_ids = g.matrix()
            transition_t, dangling = transition_matrix(adjacency)
            self._ppr_cache = (g.version, (transition_t, dangling, row_of, passage_ids))
        return self._ppr_cache[1]
