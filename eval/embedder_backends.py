"""Embedder backends side by side in one run: passages/s and single-query encode p50.

    python -m eval.embedder_backends [--passages 300] [--queries 50] [--rounds 2] [--threads N]

Passages are `title + "\\n" + text` of multihop/musique_train_100, queries its questions.
Backends alternate per round (the fastest round of each is kept, the least disturbed by
other load on a shared CPU); the cosine to torch's vectors is reported as well.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from indexes.embedder import Embedder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="../shared/datasets/multihop/musique_train_100")
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "ragmem-onnx"))
    args = parser.parse_args()
    folder = Path(args.dataset)
    corpus = json.loads((folder / "corpus.json").read_text())[: args.passages]
    passages = [f"{p['title']}\n{p['text']}" for p in corpus]
    queries = [q["question"] for q in json.loads((folder / "questions.json").read_text())][: args.queries]
    backends = args.backends.split(",")
    embedders = {b: Embedder(backend=b, batch_size=args.batch_size, torch_threads=args.threads,
                             cache_dir=args.cache_dir).load() for b in backends}
    ingest: dict[str, list[float]] = {b: [] for b in backends}
    query: dict[str, list[float]] = {b: [] for b in backends}
    vectors: dict[str, np.ndarray] = {}
    for e in embedders.values():
        e.encode(passages[:16])
        e.encode([queries[0]])
    for _ in range(args.rounds):
        for b, e in embedders.items():
            started = time.perf_counter()
            vectors[b] = e.encode(passages)
            ingest[b].append(time.perf_counter() - started)
            for q in queries:
                started = time.perf_counter()
                e.encode([q])
                query[b].append((time.perf_counter() - started) * 1000)
    out = {"machine": f"{platform.machine()} {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
           "passages": len(passages), "queries": len(queries), "rounds": args.rounds,
           "threads": args.threads, "batch_size": args.batch_size, "backends": {}}
    base = backends[0]
    for b in backends:
        cos = np.sum(vectors[b] * vectors[base], axis=1)
        out["backends"][b] = {
            "passages_per_s": round(len(passages) / min(ingest[b]), 1),
            "query_p50_ms": round(float(np.percentile(query[b], 50)), 2),
            "query_p95_ms": round(float(np.percentile(query[b], 95)), 2),
            f"cos_vs_{base}_min": round(float(cos.min()), 4),
            f"cos_vs_{base}_mean": round(float(cos.mean()), 4),
        }
    for b in backends[1:]:
        r, t = out["backends"][b], out["backends"][base]
        r["ingest_speedup"] = round(r["passages_per_s"] / t["passages_per_s"], 2)
        r["query_speedup"] = round(t["query_p50_ms"] / r["query_p50_ms"], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
