"""`KnowledgeGraphIndex`: HippoRAG-style retrieval by Personalized PageRank over OpenIE.

HippoRAG (Gutiérrez et al. 2024) seeds PPR from the question's entities linked to phrase
nodes; HippoRAG 2 (Gutiérrez et al. 2025, "From RAG to Memory") seeds it from the phrases
of the triples most similar to the question plus every passage's dense score × 0.05.
Modes:

* ``entity`` (default, offline): question entities (spaCy) linked exactly or to the nearest
  phrase by embedding, plus exact question n-grams matching titles and multi-word phrases,
  weighted by similarity × specificity, plus the dense prior; passages whose title is an
  exactly matched phrase are seeded too (`title_seed_weight`, split among same-titled
  passages), which on 2Wiki offline lifts R@5 from 0.74 to 0.80;
* ``hipporag1``: linked question entities only (no n-grams, no dense prior);
* ``hipporag2``: top facts → seed phrases, plus the dense prior;
* ``hybrid``: ``entity`` and ``hipporag2`` seeds together;
* ``auto`` (default): ``hybrid`` when most passages' triples come from an LLM or an
  imported HippoRAG file (sources in `RICH_SOURCES`), else ``entity``.

After the first walk, bridge entities named by the top passage seed a second walk
(`indexes.kg.search`, `indexes.kg.hops`; `max_hops`), comparison questions keep each
named entity's passage in the first `evidence_window` hits, and "Name (disambiguator)"
titles also title their passage as "Name".

With no seed at all the index falls back to the dense ranking and says so in the trace.
Measured (`ragmem bench multihop`, docs/BENCHMARKS.md): ``entity`` is best with
offline spaCy OpenIE, ``hybrid`` with LLM triples (HippoRAG's gpt-3.5 OpenIE on MuSiQue),
hence ``auto``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import Chunk
from indexes.dense import DenseIndex
from indexes.embedder import Embedder
from indexes.errors import EmbedderMismatchError, IndexFormatError
from indexes.kg import linking
from indexes.kg.cache import OpenIECache
from indexes.kg.graph import KnowledgeGraph
from indexes.kg.openie import OpenIEExtractor, OpenIEResult, SpacyOpenIE, normalize_entity
from indexes.kg.openie import text_hash as hash_text
from indexes.kg.search import GraphSearch
from indexes.kg.settings import KGSettings, auto_mode
from indexes.kg.store import load_graph, save_graph
from indexes.persist import read_meta, write_meta


class KnowledgeGraphIndex(GraphSearch):
    """HippoRAG-style KG index behind the `Index` protocol (retriever name ``hipporag``).

    The constructor is cheap: models load in `load_models()` or on first use.

    Args:
        embedder: encodes phrases, facts and questions.
        dense: the collection's dense index, whose scores form the passage prior (so
            passage vectors are not stored twice); without it there is no prior and no
            fallback.
        openie: the extractor for chunks without a cached result (default `SpacyOpenIE`);
            it also finds the question's entities.
        cache: the OpenIE cache; without it every add runs the extractor.
        settings: the `KGSettings`.
    """

    name = "hipporag"

    def __init__(self, embedder: Embedder, *, dense: DenseIndex | None = None,
                 openie: OpenIEExtractor | None = None, cache: OpenIECache | None = None,
                 settings: KGSettings | None = None) -> None:
        self.embedder = embedder
        self.dense = dense
        self.openie = openie if openie is not None else SpacyOpenIE()
        self.cache = cache
        self.settings = settings or KGSettings()
        self._graph: KnowledgeGraph | None = None
        self._ppr_cache: tuple[int, Any] | None = None
        self._titles_cache: tuple[int, dict[int, list[int]]] | None = None
        self._mode_cache: tuple[int, str] | None = None
        self.openie_counts: Counter[str] = Counter()  # "cached" / "extracted" by `extract`
        self.loaded_source_order: tuple[str, ...] | None = None  # as saved, when loaded
        self.build_info: dict[str, Any] = {}  # times of the build that made it (rag.indexing.manager)

    # -- lifecycle ------------------------------------------------------------
    def load_models(self) -> KnowledgeGraphIndex:
        """Load the embedder and the extractor's model (if it has one)."""
        self.embedder.load()
        loader = getattr(self.openie, "load", None)
        if callable(loader):
            loader()
        return self

    @property
    def graph(self) -> KnowledgeGraph:
        """The graph (created on first use, which needs the embedder's dimension)."""
        if self._graph is None:
            self._graph = KnowledgeGraph(
                self.embedder.dim, synonymy_threshold=self.settings.synonymy_threshold,
                synonymy_max_neighbors=self.settings.synonymy_max_neighbors)
        return self._graph

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)

    @property
    def source_order(self) -> tuple[str, ...]:
        """OpenIE sources taken from the cache, best first: preferred ones, then the extractor's."""
        return tuple(dict.fromkeys((*self.settings.prefer_sources, self.openie.source)))

    @property
    def mode(self) -> str:
        """The seeding mode in effect (``auto`` resolved from the graph's sources)."""
        if self.settings.mode != "auto":
            return self.settings.mode
        if self._graph is None:
            return auto_mode({})
        version = self._graph.version
        if self._mode_cache is None or self._mode_cache[0] != version:
            self._mode_cache = (version, auto_mode(self._graph.source_counts()))
        return self._mode_cache[1]

    def _cached(self, chunks: Sequence[Chunk]) -> tuple[list[str], dict[str, OpenIEResult]]:
        hashes = [hash_text(c.indexed_text) for c in chunks]
        found = self.cache.get_many(hashes, self.source_order) if self.cache is not None else {}
        return hashes, found

    def extract(self, chunks: Sequence[Chunk]) -> list[OpenIEResult]:
        """OpenIE results for `chunks`: cached ones first, the extractor for the rest."""
        hashes, found = self._cached(chunks)
        missing = [(h, c) for h, c in zip(hashes, chunks, strict=True) if h not in found]
        self.openie_counts["cached"] += len(chunks) - len(missing)
        self.openie_counts["extracted"] += len(missing)
        if missing:
            fresh = self.openie.extract([c for _, c in missing])
            pairs = [(h, r) for (h, _), r in zip(missing, fresh, strict=True)]
            found.update(pairs)
            if self.cache is not None:
                self.cache.put_many(pairs)
        return [self._with_aliases(found[h], c) for h, c in zip(hashes, chunks, strict=True)]

    def _with_aliases(self, result: OpenIEResult, chunk: Chunk) -> OpenIEResult:
        """The result with the chunk title's aliases as title phrases too (not cached: the
        cache holds what the extractor said)."""
        if not self.settings.title_aliases or not chunk.title:
            return result
        aliases = [a for a in (normalize_entity(t) for t in linking.title_aliases(chunk.title))
                   if a and a not in result.titles]
        return replace(result, titles=(*result.titles, *aliases)) if aliases else result

    def outdated(self, chunks: Sequence[Chunk]) -> list[int]:
        """Ids of `chunks` in the graph whose triples are not what a rebuild would use now.

        A passage is outdated when the cache now holds a result of another source that
        `source_order` picks first (HippoRAG triples imported after the build), or when its
        source is no longer accepted and the extractor would run again.
        """
        if self._graph is None:
            return []
        present = [c for c in chunks if int(c.id) in self._graph.passages]
        hashes, found = self._cached(present)
        order = self.source_order
        stale = []
        for chunk, h in zip(present, hashes, strict=True):
            held = self._graph.passages[int(chunk.id)].source
            best = found.get(h)
            if (best.source != held) if best is not None else (held not in order):
                stale.append(int(chunk.id))
        return stale

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Extract (or reuse) OpenIE for `chunks` and add them to the graph."""
        if not chunks:
            return
        self.add_results([(int(c.id), r) for c, r in zip(chunks, self.extract(chunks),
                                                          strict=True)])

    def add_results(self, items: Sequence[tuple[int, OpenIEResult]]) -> None:
        """Add passages whose OpenIE results are already known."""
        self.graph.add_passages(items, self._embed, embed_facts=self.settings.embed_facts)

    def delete(self, chunk_ids: Sequence[int]) -> None:
        """Remove passages and every phrase, fact and edge no other passage holds."""
        if self._graph is not None:
            self._graph.delete_passages([int(i) for i in chunk_ids])

    def count(self) -> int:
        """Number of passages in the graph."""
        return 0 if self._graph is None else len(self._graph.passages)

    def stats(self) -> dict[str, Any]:
        """Node, edge, fact and synonymy-edge counts, passages per OpenIE source, mode."""
        modes = {"mode": self.mode, "mode_setting": self.settings.mode}
        if self._graph is None or not self._graph.passages:
            return {"passages": 0, "phrases": 0, "nodes": 0, "edges": 0, "facts": 0,
                    "synonymy_edges": 0, "relation_edges": 0, "sources": {}, **modes}
        g = self._graph
        adjacency, _, _ = g.matrix()
        return {"passages": len(g.passages), "phrases": len(g.phrase_id),
                "nodes": int(adjacency.shape[0]), "edges": int(adjacency.nnz // 2),
                "facts": len(g.fact_id), "synonymy_edges": g.synonymy_edge_count(),
                "relation_edges": len(g.relations), "sources": g.source_counts(), **modes}

    def to_networkx(self) -> Any:
        """The graph as `networkx.Graph` (for export and as the PPR reference)."""
        return self.graph.to_networkx()

    # -- persistence ----------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write `kg.json` (manifest) and the graph's .json/.npy files into `directory`."""
        counts = save_graph(self.graph, Path(directory))
        write_meta(Path(directory), "kg", {"embedder": self.embedder.name,
                                           "dim": self.embedder.dim,
                                           "settings": asdict(self.settings),
                                           "source_order": list(self.source_order), **counts})

    def load(self, directory: Path) -> None:
        """Replace the graph with what `save` wrote.

        Raises:
            EmbedderMismatchError: when the graph was built with another embedder.
            IndexFormatError: when files are missing, corrupt or of another version.
        """
        meta = read_meta(Path(directory), "kg")
        if meta["embedder"] != self.embedder.name or meta["dim"] != self.embedder.dim:
            raise EmbedderMismatchError(
                f"KG index was built with {meta['embedder']} (dim {meta['dim']}), but the "
                f"loaded embedder is {self.embedder.name} (dim {self.embedder.dim})")
        try:
            fresh = KnowledgeGraph(meta["dim"], synonymy_threshold=self.settings.synonymy_threshold,
                                   synonymy_max_neighbors=self.settings.synonymy_max_neighbors)
            self._graph = load_graph(Path(directory), fresh, meta)
        except KeyError as exc:
            raise IndexFormatError(f"{directory}: KG manifest lacks {exc}") from exc
        self._ppr_cache = self._titles_cache = self._mode_cache = None
        order = meta.get("source_order")
        self.loaded_source_order = tuple(order) if isinstance(order, list) else None
