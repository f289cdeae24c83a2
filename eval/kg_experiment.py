"""Temporary harness for the KG index (issue 4): recall on multi-hop sets and PPR speed.

Final numbers are re-run through ``ragmem bench``; this script exists to iterate fast. It
caches embeddings and spaCy docs under ``--cache-dir`` (default /tmp/kgcache).

    HF_HUB_OFFLINE=1 nice .venv/bin/python -m eval.kg_experiment --set musique_train_100 \
        --openie import --mode hipporag2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import Chunk
from indexes.dense import DenseIndex
from indexes.embedder import Embedder
from indexes.kg import KGSettings, KnowledgeGraphIndex, OpenIECache, SpacyOpenIE
from indexes.kg.openie import extract_from_doc, read_hipporag_openie

DATA = Path("../shared/datasets/multihop")
OPENIE_FILE = DATA / "openie/openie_musique_train_results_ner_gpt-3.5-turbo-1106_1890.json"


class CachedEmbedder:
    """An `Embedder` stand-in that memoizes vectors on disk (texts .json + vectors .npy)."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner, self.path = inner, path
        self.name, self.calls = inner.name, 0
        self._rows: dict[str, int] = {}
        self._vecs = np.zeros((0, 384), dtype=np.float32)
        if path.with_suffix(".json").exists():
            texts = json.loads(path.with_suffix(".json").read_text())
            self._vecs = np.load(path.with_suffix(".npy"))
            self._rows = {t: i for i, t in enumerate(texts)}

    @property
    def dim(self) -> int:
        return 384

    def load(self) -> CachedEmbedder:
        return self

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if missing:
            self.calls += len(missing)
            vecs = self.inner.encode(missing)
            start = len(self._vecs)
            self._vecs = np.vstack([self._vecs, vecs])
            self._rows.update((t, start + i) for i, t in enumerate(missing))
        return self._vecs[[self._rows[t] for t in texts]] if texts else self._vecs[:0]

    def flush(self) -> None:
        texts = sorted(self._rows, key=self._rows.get)
        self.path.with_suffix(".json").write_text(json.dumps(texts))
        np.save(self.path.with_suffix(".npy"), self._vecs)


def recall(ranked: list[int], gold: set[int], k: int) -> float:
    return len(set(ranked[:k]) & gold) / len(gold)


def load_set(name: str) -> tuple[list[Chunk], list[dict[str, Any]]]:
    corpus = json.loads((DATA / name / "corpus.json").read_text())
    questions = json.loads((DATA / name / "questions.json").read_text())
    return [Chunk(int(c["id"]), c["text"], c["title"]) for c in corpus], questions


def build(args: argparse.Namespace, chunks: list[Chunk], emb: CachedEmbedder,
          dense: DenseIndex, cache_dir: Path) -> tuple[KnowledgeGraphIndex, dict[str, float]]:
    spacy_ie = SpacyOpenIE()
    settings = KGSettings(mode=args.mode, dense_prior_weight=args.prior,
                          prefer_sources=("import",) if args.openie == "import" else (),
                          link_min_similarity=args.link_min, top_facts=args.top_facts,
                          damping=args.damping, title_seed_weight=args.title,
                          embed_facts=args.mode in ("hipporag2", "hybrid") or bool(args.grid))
    sqlite = OpenIECache(cache_dir / "openie.sqlite")
    index = KnowledgeGraphIndex(emb, dense=dense, openie=spacy_ie, cache=sqlite,
                                settings=settings)
    timing: dict[str, float] = {}
    if args.openie == "import":
        sqlite.import_results(read_hipporag_openie(OPENIE_FILE))
    docbin = cache_dir / f"{args.set}.text.spacy"
    start = time.perf_counter()
    if args.openie == "spacy" and docbin.exists():
        from spacy.tokens import DocBin

        nlp = spacy_ie.load()._nlp
        docs = DocBin().from_disk(docbin).get_docs(nlp.vocab)
        results = [extract_from_doc(d, c.title) for d, c in zip(docs, chunks, strict=True)]
        timing["extract_s"] = time.perf_counter() - start
        start = time.perf_counter()
        index.add_results([(c.id, r) for c, r in zip(chunks, results, strict=True)])
    else:
        index.add(chunks)
    timing["graph_s"] = time.perf_counter() - start
    return index, timing


def nx_compare(index: KnowledgeGraphIndex, queries: list[str], damping: float) -> dict[str, Any]:
    """Time our PPR and `nx.pagerank` with the same personalization; compare top-10."""
    import networkx as nx

    from indexes.kg.ppr import personalized_pagerank

    transition_t, dangling, _, passage_ids = index._operator()
    adjacency, _, _ = index.graph.matrix()
    graph = nx.from_scipy_sparse_array(adjacency)
    n_phr = adjacency.shape[0] - len(passage_ids)
    ours_t, nx_t, same = [], [], 0
    for q in queries:
        trace: dict[str, Any] = {}
        seeds, _ = index._entity_seeds(q, trace, entities=True, ngrams=True)
        if not seeds:
            continue
        _, _, row_of, _ = index._operator()
        reset = np.zeros(adjacency.shape[0])
        for pid, w in seeds.items():
            reset[row_of[pid]] += w
        t = time.perf_counter()
        ours = personalized_pagerank(transition_t, dangling, reset, damping=damping, tol=1e-10)
        ours_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        ref = nx.pagerank(graph, alpha=damping, personalization={
            i: float(reset[i]) for i in np.flatnonzero(reset)}, tol=1e-10, weight="weight")
        nx_t.append(time.perf_counter() - t)
        ref_arr = np.array([ref[i] for i in range(adjacency.shape[0])])
        same += list(np.argsort(-ours[n_phr:])[:10]) == list(np.argsort(-ref_arr[n_phr:])[:10])
    return {"queries": len(ours_t), "ours_ms": 1000 * float(np.mean(ours_t)),
            "nx_ms": 1000 * float(np.mean(nx_t)), "speedup": float(np.mean(nx_t) / np.mean(ours_t)),
            "same_top10": same}


def evaluate(index: KnowledgeGraphIndex, dense: DenseIndex,
             questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean R@k of the index and of dense alone, fallbacks and query time."""
    ks = (1, 2, 5, 10)
    sums = {k: 0.0 for k in ks} | {f"dense{k}": 0.0 for k in ks}
    fallbacks, t0 = 0, time.perf_counter()
    for q in questions:
        gold = {int(g) for g in q["gold_ids"]}
        hits, trace = index.search_with_trace(q["question"], 10)
        ranked = [h.chunk_id for h in hits]
        dranked = [h.chunk_id for h in dense.search(q["question"], 10)]
        fallbacks += trace["fallback_dense"]
        for k in ks:
            sums[k] += recall(ranked, gold, k)
            sums[f"dense{k}"] += recall(dranked, gold, k)
    n = len(questions)
    return {"n": n, "fallbacks": fallbacks,
            "query_ms": round(1000 * (time.perf_counter() - t0) / n, 1),
            **{f"R@{k}": round(sums[k] / n, 4) for k in ks},
            **{f"dense R@{k}": round(sums[f"dense{k}"] / n, 4) for k in ks}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="musique_train_100")
    parser.add_argument("--openie", choices=["spacy", "import"], default="spacy")
    parser.add_argument("--mode", default="entity")
    parser.add_argument("--prior", type=float, default=0.05)
    parser.add_argument("--link-min", type=float, default=0.5)
    parser.add_argument("--top-facts", type=int, default=5)
    parser.add_argument("--damping", type=float, default=0.5)
    parser.add_argument("--title", type=float, default=1.0)
    parser.add_argument("--grid", default="", help="JSON list of KGSettings overrides")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--nx", type=int, default=0, help="compare PPR with nx on N queries")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/kgcache"))
    args = parser.parse_args()
    chunks, questions = load_set(args.set)
    questions = questions[: args.limit] if args.limit else questions
    emb = CachedEmbedder(Embedder(), args.cache_dir / f"emb_cache_{args.set}")
    dense = DenseIndex(emb)  # type: ignore[arg-type]
    pvec = args.cache_dir / f"{args.set}.passages.npy"
    vecs = np.load(pvec) if pvec.exists() else emb.inner.encode([c.indexed_text for c in chunks])
    dense.add_vectors([c.id for c in chunks], vecs)
    index, timing = build(args, chunks, emb, dense, args.cache_dir)
    base_settings = index.settings
    emb.flush()
    configs = json.loads(args.grid) if args.grid else [{}]
    for overrides in configs:
        index.settings = dataclasses.replace(base_settings, **overrides)
        result = evaluate(index, dense, questions)
        print(json.dumps({"set": args.set, "openie": args.openie, **overrides, **result,
                          "timing": timing, "stats": index.stats()}), flush=True)
    emb.flush()
    if args.nx:
        print(json.dumps(nx_compare(index, [q["question"] for q in questions[: args.nx]],
                                    args.damping)))


if __name__ == "__main__":
    main()
