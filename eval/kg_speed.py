"""`ragmem bench kg-speed`: what the knowledge graph costs to build and to query.

Three measurements on one multi-hop set's cached benchmark collection:

* offline OpenIE: spaCy on the first N passages, fresh (the OpenIE cache is bypassed);
* graph build: a new graph from the cached OpenIE of every passage (phrase and fact
  embeddings, synonymy kNN, edges), passages per second;
* Personalized PageRank: our walk on the cached CSR operator against `networkx.pagerank`
  with the same personalization (the restart vector `search` builds for each question),
  damping and tolerance; time per query, their ratio and how often the top-10 passages
  agree.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import Dataset
from eval.runner import Progress, prepare_collection, prepare_graph, use_openie
from indexes.base import Chunk
from rag.service.core import RagService


def _chunks(service: RagService, ids: Sequence[int]) -> list[Chunk]:
    rows = service.store.get_chunks(ids)
    return [Chunk(r.id, r.text, r.title) for r in (rows[i] for i in ids if i in rows)]


def openie_speed(chunks: Sequence[Chunk]) -> dict[str, Any]:
    """spaCy OpenIE passages per second on `chunks` (the model load is not timed)."""
    from indexes.kg import SpacyOpenIE

    extractor = SpacyOpenIE().load()
    started = time.perf_counter()
    results = extractor.extract(chunks)
    seconds = time.perf_counter() - started
    return {"passages": len(chunks), "seconds": round(seconds, 2),
            "passages_per_s": round(len(chunks) / max(seconds, 1e-9), 2),
            "triples_per_passage": round(sum(len(r.triples) for r in results)
                                         / max(1, len(results)), 2)}


def build_speed(service: RagService, live: Any, chunks: Sequence[Chunk]) -> dict[str, Any]:
    """Passages per second of a graph build from cached OpenIE (nothing is saved)."""
    kg = service.indexes.make_kg(live.dense)
    results = kg.extract(chunks)
    started = time.perf_counter()
    kg.add_results([(c.id, r) for c, r in zip(chunks, results, strict=True)])
    seconds = time.perf_counter() - started
    return {"passages": len(chunks), "seconds": round(seconds, 2),
            "passages_per_s": round(len(chunks) / max(seconds, 1e-9), 2),
            "openie_extracted": int(kg.openie_counts["extracted"]), "stats": kg.stats()}


def ppr_speed(kg: Any, questions: Sequence[str], *, progress: Progress | None = None,
              ) -> dict[str, Any]:
    """Our PPR against `networkx.pagerank`: same graph, restart vector, damping, tolerance."""
    import networkx as nx

    adjacency, _, passage_ids = kg.graph.matrix()
    graph = nx.from_scipy_sparse_array(adjacency)
    n_phrases = adjacency.shape[0] - len(passage_ids)
    ours, ref, same, same_set, skipped = [], [], 0, 0, 0
    for n, question in enumerate(questions, start=1):
        reset = kg.personalization(question)
        if reset is None:
            skipped += 1
            continue
        started = time.perf_counter()
        scores = kg.pagerank(reset)
        ours.append(time.perf_counter() - started)
        personalization = {int(i): float(reset[i]) for i in np.flatnonzero(reset)}
        started = time.perf_counter()
        expected = nx.pagerank(graph, alpha=kg.settings.damping, personalization=personalization,
                               tol=kg.settings.ppr_tol, max_iter=1000, weight="weight")
        ref.append(time.perf_counter() - started)
        expected_arr = np.array([expected[i] for i in range(adjacency.shape[0])])
        top = list(np.argsort(-scores[n_phrases:], kind="stable")[:10])
        top_ref = list(np.argsort(-expected_arr[n_phrases:], kind="stable")[:10])
        same += top == top_ref
        same_set += set(top) == set(top_ref)
        if progress:
            progress("ppr vs networkx", n, len(questions))
    timed = max(1, len(ours))
    return {"queries": len(ours), "no_seed": skipped, "nodes": int(adjacency.shape[0]),
            "edges": int(adjacency.nnz // 2),
            "ours_ms_mean": round(1000 * float(np.mean(ours)), 3) if ours else None,
            "ours_ms_p50": round(1000 * float(np.median(ours)), 3) if ours else None,
            "networkx_ms_mean": round(1000 * float(np.mean(ref)), 3) if ref else None,
            "networkx_ms_p50": round(1000 * float(np.median(ref)), 3) if ref else None,
            "speedup": round(float(np.mean(ref) / np.mean(ours)), 1) if ours else None,
            "same_top10": round(same / timed, 4), "same_top10_set": round(same_set / timed, 4)}


def run_kg_speed(service: RagService, dataset: Dataset, *, openie: str | Path | None = None,
                 openie_passages: int = 500, queries: int = 200,
                 progress: Progress | None = None) -> dict[str, Any]:
    """OpenIE, graph-build and PPR speed on the dataset's benchmark collection.

    Returns:
        `{"dataset", "n_passages", "openie", "graph_build", "ppr", "meta"}`.
    """
    use_openie(service, openie)
    collection, facts = prepare_collection(service, dataset, progress=progress)
    facts["kg"] = prepare_graph(service, collection, openie=openie, progress=progress)
    live = service.indexes.get(collection)
    ids = service.store.chunk_ids(collection)
    if progress:
        progress("spaCy OpenIE (fresh)", 0, 1)
    spacy = openie_speed(_chunks(service, ids[:openie_passages]))
    if progress:
        progress("spaCy OpenIE (fresh)", 1, 1)
        progress("graph build (cached OpenIE)", 0, 1)
    build = build_speed(service, live, _chunks(service, ids))
    if progress:
        progress("graph build (cached OpenIE)", 1, 1)
    ppr = ppr_speed(live.kg, [q.question for q in dataset.questions[:queries]], progress=progress)
    return {"dataset": dataset.name, "n_passages": len(dataset.passages), "openie": spacy,
            "graph_build": build, "ppr": ppr,
            "meta": {"embedder": service.embedder.name, **facts}}
