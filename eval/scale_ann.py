"""`ragmem bench scale`'s side-by-side index rows (issue 13): HNSW recall@10 and p50 at
several efSearch values, and segmented BM25 against one monolithic bm25s index over the
same chunks, each pair timed in the same loop (alternating) on the same warm service,
so the ratio holds on a loaded machine.

Both work on the collection's live indexes (`CollectionIndexes`), below the service, so
no SQLite hydration or lock is in the timed path: what is compared is the index alone.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from eval.speed import _summary
from indexes.base import Chunk
from indexes.bm25 import BM25Index


def _recall(got: Sequence[Sequence[int]], exact: Sequence[set[int]]) -> float:
    return round(float(np.mean([len(set(g) & e) / max(1, len(e))
                                for g, e in zip(got, exact, strict=True)])), 4)


def ef_sweep(live: Any, query_vectors: np.ndarray, exact: Sequence[set[int]],
             ef_values: Sequence[int]) -> list[dict[str, Any]]:
    """Dense recall@10 against `exact` and p50 (index only) per efSearch; the live
    efSearch is put back afterwards."""
    segments = live.segments
    before = segments.ann
    out = []
    try:
        for ef in ef_values:
            segments.ann = dataclasses.replace(before, ef_search=int(ef))
            live.dense.search_vector(query_vectors[0], 10)  # warm
            got, times = [], []
            for vector in query_vectors:
                started = time.perf_counter()
                hits = live.dense.search_vector(vector, 10)
                times.append((time.perf_counter() - started) * 1000)
                got.append([h.chunk_id for h in hits])
            out.append({"ef_search": int(ef), "recall_at_10": _recall(got, exact),
                        **_summary(times)})
    finally:
        segments.ann = before
    return out


def bm25_side_by_side(service: Any, collection: Any, live: Any,
                      queries: Sequence[str]) -> dict[str, Any]:
    """p50 of the segmented BM25 and of one `BM25Index` (bm25s, eager scores) built over
    the same live chunks, alternating query by query; top-10 agreement between them."""
    ids = service.store.chunk_ids(collection)
    mono = BM25Index(k1=live.segments.k1, b=live.segments.b, tokenizer=live.segments.tokenizer)
    started = time.perf_counter()
    for start in range(0, len(ids), 20_000):
        rows = service.store.get_chunks(ids[start:start + 20_000])
        mono.add([Chunk(cid, r.text, r.title or "") for cid, r in rows.items()])
    mono.search(queries[0], 10)  # builds its matrix
    build_s = time.perf_counter() - started
    seg_ms, mono_ms, same = [], [], []
    for query in queries:
        t0 = time.perf_counter()
        ours = live.bm25.search(query, 10)
        t1 = time.perf_counter()
        theirs = mono.search(query, 10)
        t2 = time.perf_counter()
        seg_ms.append((t1 - t0) * 1000)
        mono_ms.append((t2 - t1) * 1000)
        same.append([h.chunk_id for h in ours] == [h.chunk_id for h in theirs])
    seg, one = _summary(seg_ms), _summary(mono_ms)
    return {"segments": len(live.segments.segments), "segmented": seg, "monolithic": one,
            "p50_ratio": round(seg["p50_ms"] / one["p50_ms"], 2) if one["p50_ms"] else None,
            "same_top10": round(float(np.mean(same)), 4), "monolithic_build_s": round(build_s, 1)}
