"""The HippoRAG 2 graph: phrase and passage nodes, relation, synonymy and context edges.

Following HippoRAG (Gutiérrez et al. 2024) and HippoRAG 2 (Gutiérrez et al. 2025):

* a phrase node per normalized entity or triple end, a passage node per chunk;
* relation edges between a triple's subject and object (weight = number of triples);
* context edges between a passage and each of its phrases (weight 1);
* synonymy edges between phrases whose embeddings have cosine >= threshold, found by FAISS
  range search for NEW phrases only, so an add costs time in proportion to what it adds;
* node specificity 1 / |passages holding the phrase|;
* fact embeddings (one vector per distinct triple) for HippoRAG 2's query-to-fact step.

Ids of phrases and facts are stable (never reused), so vectors live in growing arrays
whose dead rows are zeroed. The scipy matrix for PPR is derived and cached per version.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scipy loads when a graph first builds its matrix (issue 19.7)
    import scipy.sparse as sp

from indexes.errors import MissingDependencyError
from indexes.kg.openie import OpenIEResult

EmbedFn = Callable[[list[str]], np.ndarray]


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise MissingDependencyError("the KG index needs faiss: pip install faiss-cpu") from exc
    return faiss


@dataclass
class PassageEntry:
    """What one passage contributed: phrase ids, title phrase ids, fact ids, edge pairs,
    and the OpenIE source its triples came from."""

    phrases: list[int]
    titles: list[int]
    facts: list[int]
    pairs: list[tuple[int, int]] = field(default_factory=list)
    source: str = ""


class VectorTable:
    """Rows of unit vectors under stable integer ids, with an alive mask."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.vectors = np.zeros((0, dim), dtype=np.float32)
        self.alive = np.zeros(0, dtype=bool)

    def append(self, vectors: np.ndarray) -> np.ndarray:
        """Store `vectors` and return their new ids."""
        start = len(self.alive)
        self.vectors = np.vstack([self.vectors, np.asarray(vectors, dtype=np.float32)])
        self.alive = np.concatenate([self.alive, np.ones(len(vectors), dtype=bool)])
        return np.arange(start, start + len(vectors))

    def kill(self, ids: Sequence[int]) -> None:
        """Mark rows dead and zero them."""
        idx = np.asarray(list(ids), dtype=np.int64)
        self.alive[idx] = False
        self.vectors[idx] = 0.0


class KnowledgeGraph:
    """Mutable phrase/passage graph with incremental synonymy (no I/O, no models)."""

    def __init__(self, dim: int, *, synonymy_threshold: float = 0.8,
                 synonymy_max_neighbors: int = 100) -> None:
        if not 0 < synonymy_threshold <= 1:
            raise ValueError(f"synonymy_threshold must be in (0, 1], got {synonymy_threshold!r}")
        self.synonymy_threshold = synonymy_threshold
        self.synonymy_max_neighbors = synonymy_max_neighbors
        self.phrase_text: list[str] = []
        self.phrase_id: dict[str, int] = {}
        self.phrase_vecs = VectorTable(dim)
        self.phrase_passages: dict[int, set[int]] = {}
        self.fact_triple: list[tuple[str, str, str]] = []
        self.fact_id: dict[tuple[str, str, str], int] = {}
        self.fact_vecs = VectorTable(dim)
        self.fact_owners: dict[int, set[int]] = {}
        self.passages: dict[int, PassageEntry] = {}
        self.relations: Counter[tuple[int, int]] = Counter()
        self.synonyms: dict[int, dict[int, float]] = {}
        self.knn_queries = 0  # phrases sent to the synonymy search, for tests and stats
        self.version = 0
        self._faiss_index: Any = None
        self._matrix_cache: tuple[int, Any] | None = None

    # -- writes ---------------------------------------------------------------
    def add_passages(self, items: Sequence[tuple[int, OpenIEResult]], embed: EmbedFn, *,
                     embed_facts: bool = True) -> None:
        """Add passages (a present chunk id is replaced) and their phrases and facts.

        Args:
            items: `(chunk_id, openie_result)` pairs.
            embed: encodes texts into unit vectors (phrases and fact strings).
            embed_facts: also embed new facts (needed for HippoRAG 2 fact seeding).
        """
        self.delete_passages([cid for cid, _ in items if cid in self.passages])
        new_phrases = list(dict.fromkeys(
            p for _, r in items for p in r.phrases() if p not in self.phrase_id))
        self._add_phrases(new_phrases, embed)
        new_facts = list(dict.fromkeys(
            t for _, r in items for t in r.triples if t not in self.fact_id))
        fact_vecs = embed([" ".join(t) for t in new_facts]) if embed_facts and new_facts else (
            np.zeros((len(new_facts), self.fact_vecs.dim), dtype=np.float32))
        for triple, fid in zip(new_facts, self.fact_vecs.append(fact_vecs), strict=True):
            self.fact_id[triple] = int(fid)
            self.fact_triple.append(triple)
        for cid, result in items:
            self._link_passage(int(cid), result)
        self.version += 1

    def _link_passage(self, cid: int, result: OpenIEResult) -> None:
        phrases = [self.phrase_id[p] for p in result.phrases()]
        facts = list(dict.fromkeys(self.fact_id[t] for t in result.triples))
        pairs = [tuple(sorted((self.phrase_id[s], self.phrase_id[o])))
                 for s, _, o in result.triples]
        entry = PassageEntry(phrases, [self.phrase_id[t] for t in result.titles], facts, pairs,
                             result.source)
        self.passages[cid] = entry
        for pid in phrases:
            self.phrase_passages.setdefault(pid, set()).add(cid)
        for fid in facts:
            self.fact_owners.setdefault(fid, set()).add(cid)
        self.relations.update(entry.pairs)

    def _add_phrases(self, phrases: list[str], embed: EmbedFn) -> None:
        if not phrases:
            return
        vectors = embed(phrases)
        ids = self.phrase_vecs.append(vectors)
        for text, pid in zip(phrases, ids, strict=True):
            self.phrase_id[text] = int(pid)
            self.phrase_text.append(text)
        index = self._phrase_faiss()
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
        self._link_synonyms(ids, vectors)

    def _phrase_faiss(self) -> Any:
        if self._faiss_index is None:
            faiss = _faiss()
            self._faiss_index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.phrase_vecs.dim))
            alive = np.flatnonzero(self.phrase_vecs.alive)
            if len(alive):
                self._faiss_index.add_with_ids(self.phrase_vecs.vectors[alive], alive)
        return self._faiss_index

    def _link_synonyms(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Synonymy edges from each NEW phrase to its nearest phrases within the threshold.

        FAISS kNN (BLAS-backed) with k = max neighbors + 1, then the cosine threshold, as
        HippoRAG 2 does; old phrase pairs are never searched again.
        """
        index = self._phrase_faiss()
        self.knn_queries += len(ids)
        k = min(self.synonymy_max_neighbors + 1, int(index.ntotal))
        for start in range(0, len(ids), 4096):
            block = np.ascontiguousarray(vectors[start:start + 4096], dtype=np.float32)
            sims, nbrs = index.search(block, k)
            for pid, row_sims, row_nbrs in zip(ids[start:start + 4096].tolist(), sims, nbrs,
                                               strict=True):
                keep = (row_sims >= self.synonymy_threshold) & (row_nbrs >= 0)
                for other, sim in zip(row_nbrs[keep].tolist(), row_sims[keep].tolist(),
                                      strict=True):
                    if other != pid:
                        weight = min(float(sim), 1.0)
                        self.synonyms.setdefault(pid, {})[other] = weight
                        self.synonyms.setdefault(other, {})[pid] = weight

    def delete_passages(self, chunk_ids: Sequence[int]) -> None:
        """Remove passages, then every phrase, fact and edge no remaining passage holds."""
        dead_phrases: list[int] = []
        dead_facts: list[int] = []
        for cid in chunk_ids:
            entry = self.passages.pop(int(cid), None)
            if entry is None:
                continue
            self.relations.subtract(entry.pairs)
            for pid in entry.phrases:
                holders = self.phrase_passages[pid]
                holders.discard(int(cid))
                if not holders:
                    dead_phrases.append(pid)
            for fid in entry.facts:
                self.fact_owners[fid].discard(int(cid))
                if not self.fact_owners[fid]:
                    dead_facts.append(fid)
        self.relations = +self.relations  # drops pairs whose count reached zero
        self._drop_phrases(dead_phrases)
        for fid in dead_facts:
            del self.fact_owners[fid]
            del self.fact_id[self.fact_triple[fid]]
        if dead_facts:
            self.fact_vecs.kill(dead_facts)
        self.version += 1

    def _drop_phrases(self, pids: list[int]) -> None:
        if not pids:
            return
        for pid in pids:
            del self.phrase_passages[pid]
            del self.phrase_id[self.phrase_text[pid]]
            for other in self.synonyms.pop(pid, {}):
                self.synonyms.get(other, {}).pop(pid, None)
        self.phrase_vecs.kill(pids)
        self._phrase_faiss().remove_ids(np.asarray(pids, dtype=np.int64))

    # -- reads ----------------------------------------------------------------
    def specificity(self, pid: int) -> float:
        """HippoRAG's node specificity: 1 / number of passages holding the phrase."""
        return 1.0 / max(1, len(self.phrase_passages.get(pid, ())))

    def source_counts(self) -> dict[str, int]:
        """Passages per OpenIE source ("spacy", "import", "llm", ...)."""
        return dict(Counter(e.source for e in self.passages.values()))

    def synonymy_edge_count(self) -> int:
        """Number of undirected synonymy edges."""
        return sum(len(n) for n in self.synonyms.values()) // 2

    def matrix(self) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """Symmetric adjacency over [live phrases..., passages...], cached per version.

        Returns:
            `(adjacency, row_of_phrase, passage_ids)`: `row_of_phrase[pid]` is the node row
            of phrase `pid` (-1 when dead); passage node rows follow the phrases, in the
            order of `passage_ids`.
        """
        if self._matrix_cache is not None and self._matrix_cache[0] == self.version:
            return self._matrix_cache[1]
        alive = np.flatnonzero(self.phrase_vecs.alive)
        row_of = np.full(len(self.phrase_vecs.alive), -1, dtype=np.int64)
        row_of[alive] = np.arange(len(alive))
        passage_ids = np.fromiter(self.passages, dtype=np.int64, count=len(self.passages))
        passage_row = {cid: len(alive) + n for n, cid in enumerate(passage_ids.tolist())}
        edges = self._edges()
        rows = [passage_row[u] if kind == "context" else row_of[u] for u, _, _, kind in edges]
        cols = [row_of[v] for _, v, _, _ in edges]
        weights = [w for _, _, w, _ in edges]
        size = len(alive) + len(passage_ids)
        import scipy.sparse as sp

        upper = sp.coo_matrix((weights, (rows, cols)), shape=(size, size)).tocsr()
        built = (sp.csr_matrix(upper + upper.T), row_of, passage_ids)
        self._matrix_cache = (self.version, built)
        return built

    def to_networkx(self) -> Any:
        """The graph as a `networkx.Graph` (nodes `phrase:<text>`, `passage:<id>`).

        Parallel relation and synonymy edges are merged with their weights summed, as in
        the PPR matrix.
        """
        import networkx as nx

        graph = nx.Graph()
        for pid in np.flatnonzero(self.phrase_vecs.alive).tolist():
            graph.add_node(f"phrase:{self.phrase_text[pid]}", kind="phrase")
        for u, v, weight, kind in self._edges():
            a = f"passage:{u}" if kind == "context" else f"phrase:{self.phrase_text[u]}"
            b = f"phrase:{self.phrase_text[v]}"
            if graph.has_edge(a, b):
                graph[a][b]["weight"] += weight
                graph[a][b]["kind"] += f"+{kind}"
            else:
                graph.add_edge(a, b, weight=weight, kind=kind)
        for cid in self.passages:
            graph.add_node(f"passage:{cid}", kind="passage")
        return graph

    def _edges(self) -> list[tuple[int, int, float, str]]:
        """Every undirected edge once: relation, synonymy (phrase ids), context (chunk id)."""
        edges = [(a, b, float(c), "relation") for (a, b), c in self.relations.items()]
        edges += [(a, b, sim, "synonym") for a, nbrs in self.synonyms.items()
                  for b, sim in nbrs.items() if a < b]
        edges += [(cid, pid, 1.0, "context") for cid, entry in self.passages.items()
                  for pid in entry.phrases]
        return edges
