"""Plain files for a `KnowledgeGraph`: JSON and .npy, never pickle.

Only the primary state is written (phrase and fact texts and vectors, passages, synonymy
edges); relation counts, phrase holders and fact owners are rebuilt from the passages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from indexes.errors import IndexFormatError
from indexes.kg.graph import KnowledgeGraph, PassageEntry
from indexes.persist import load_array, save_array

FILES = ("kg_phrases.json", "kg_phrase_vecs.npy", "kg_phrase_alive.npy", "kg_facts.json",
         "kg_fact_vecs.npy", "kg_fact_alive.npy", "kg_passages.json", "kg_synonyms.npy")


def save_graph(graph: KnowledgeGraph, directory: Path) -> dict[str, Any]:
    """Write the graph's files into `directory`; returns counts for the manifest."""
    (directory / "kg_phrases.json").write_text(json.dumps(graph.phrase_text, ensure_ascii=False))
    save_array(directory / "kg_phrase_vecs.npy", graph.phrase_vecs.vectors)
    save_array(directory / "kg_phrase_alive.npy", graph.phrase_vecs.alive)
    (directory / "kg_facts.json").write_text(json.dumps(graph.fact_triple, ensure_ascii=False))
    save_array(directory / "kg_fact_vecs.npy", graph.fact_vecs.vectors)
    save_array(directory / "kg_fact_alive.npy", graph.fact_vecs.alive)
    passages = {str(cid): {"phrases": e.phrases, "titles": e.titles, "facts": e.facts,
                           "pairs": [list(p) for p in e.pairs], "source": e.source}
                for cid, e in graph.passages.items()}
    (directory / "kg_passages.json").write_text(json.dumps(passages))
    synonyms = np.array([(a, b, w) for a, nbrs in graph.synonyms.items()
                         for b, w in nbrs.items() if a < b], dtype=np.float64).reshape(-1, 3)
    save_array(directory / "kg_synonyms.npy", synonyms)
    return {"phrases": len(graph.phrase_id), "facts": len(graph.fact_id),
            "passages": len(graph.passages), "phrase_rows": len(graph.phrase_text),
            "knn_queries": graph.knn_queries}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexFormatError(f"{path}: missing") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexFormatError(f"{path}: not valid JSON ({exc})") from exc


def load_graph(directory: Path, graph: KnowledgeGraph, meta: dict[str, Any]) -> KnowledgeGraph:
    """Fill an empty `graph` from the files `save_graph` wrote.

    Raises:
        IndexFormatError: when a file is missing, corrupt or disagrees with the manifest.
    """
    texts = _read_json(directory / "kg_phrases.json")
    graph.phrase_vecs.vectors = load_array(directory / "kg_phrase_vecs.npy").astype(np.float32)
    graph.phrase_vecs.alive = load_array(directory / "kg_phrase_alive.npy").astype(bool)
    triples = [tuple(t) for t in _read_json(directory / "kg_facts.json")]
    graph.fact_vecs.vectors = load_array(directory / "kg_fact_vecs.npy").astype(np.float32)
    graph.fact_vecs.alive = load_array(directory / "kg_fact_alive.npy").astype(bool)
    if not (len(texts) == len(graph.phrase_vecs.alive) == len(graph.phrase_vecs.vectors)
            == meta["phrase_rows"]) or len(triples) != len(graph.fact_vecs.alive):
        raise IndexFormatError(f"{directory}: KG phrase/fact files disagree in length")
    graph.phrase_text = list(texts)
    graph.phrase_id = {t: i for i, t in enumerate(texts) if graph.phrase_vecs.alive[i]}
    graph.fact_triple = triples
    graph.fact_id = {t: i for i, t in enumerate(triples) if graph.fact_vecs.alive[i]}
    for cid, raw in _read_json(directory / "kg_passages.json").items():
        entry = PassageEntry(raw["phrases"], raw["titles"], raw["facts"],
                             [(int(a), int(b)) for a, b in raw["pairs"]],
                             str(raw.get("source", "")))
        graph.passages[int(cid)] = entry
        for pid in entry.phrases:
            graph.phrase_passages.setdefault(pid, set()).add(int(cid))
        for fid in entry.facts:
            graph.fact_owners.setdefault(fid, set()).add(int(cid))
        graph.relations.update(entry.pairs)
    for a, b, w in load_array(directory / "kg_synonyms.npy").tolist():
        graph.synonyms.setdefault(int(a), {})[int(b)] = w
        graph.synonyms.setdefault(int(b), {})[int(a)] = w
    graph.knn_queries = int(meta.get("knn_queries", 0))
    if len(graph.passages) != meta["passages"] or len(graph.phrase_id) != meta["phrases"]:
        raise IndexFormatError(f"{directory}: KG files disagree with the manifest")
    graph.version += 1
    return graph
