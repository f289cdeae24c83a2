"""`ragmem bench scale`: what one write, one delete, one query and one open cost as a
collection grows to N chunks (issue 13's table), measured through `RagService` only.

Per size N, in a fresh data dir: bulk ingest of the tiled corpus (`eval.scale_corpus`)
in batches through `add_documents` + `run_job` (ms per 1K chunks per batch: linearity),
then, with the service warm: retriever p50s (dense with the query vector precomputed,
so the encoder is excluded; hybrid and dense with it), dense recall@10 against exact
search over the same vectors, three one-chunk adds end to end (real encoder) with the
bytes each writes and the next bm25 query after it, three deletes, the worst query
latency seen while one add runs, merge cost when the indexes report segments, RSS; then
the service is closed and reopened: open + load, each retriever's first answer, and the
first add after open.
"""

from __future__ import annotations

import gc
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.scale_corpus import (
    SyntheticVectors,
    io_counters,
    memory_kb,
    precomputed_encode,
    record,
    reset_peak,
    tree_bytes,
)
from eval.speed import _latencies, _summary
from indexes.embedder import Embedder
from rag.service.core import RagService
from rag.settings import Settings
from rag.storage.store import CollectionRow

Progress = Callable[[str, int, int], None]
COLLECTION = "scale"
RETRIEVERS = ("dense", "bm25", "hybrid")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def bulk_ingest(service: RagService, collection: CollectionRow, passages: Sequence[tuple[str, str]],
                n: int, batch: int, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Ingest documents 0..n-1 in batches (one `add_documents` + `run_job` each).

    Returns:
        Per batch: chunks in the collection before it, its size, and ms per 1K chunks
        for the store commit, the indexing job and both.
    """
    out = []
    for start in range(0, n, batch):
        docs = service.parse_records([record(passages, i) for i in range(start, min(n, start + batch))])
        started = time.perf_counter()
        job, _ = service.add_documents(collection, docs)
        stored = time.perf_counter()
        service.run_job(job)
        done = time.perf_counter()
        per_1k = 1000 / len(docs)
        out.append({"at": start, "chunks": len(docs),
                    "store_ms_per_1k": round(_ms(stored - started) * per_1k, 1),
                    "index_ms_per_1k": round(_ms(done - stored) * per_1k, 1),
                    "ms_per_1k": round(_ms(done - started) * per_1k, 1)})
        if progress:
            progress(f"bulk ingest {n}", start + len(docs), n)
    return out


def linearity(batches: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """ms per 1K chunks of the first and last batch and their ratio (1.0: linear ingest)."""
    first, last = batches[0]["ms_per_1k"], batches[-1]["ms_per_1k"]
    return {"first_ms_per_1k": first, "last_ms_per_1k": last,
            "last_over_first": round(last / first, 2) if first else None}


class _Added:
    """Adds one new one-chunk document per call (a text no corpus vector exists for, so
    the real model embeds it: end to end). With `counts` (`precomputed_encode`'s), the
    model's seconds are split out: `index_ms` is the add's work beyond embedding."""

    def __init__(self, service: RagService, collection: CollectionRow, text: str,
                 counts: dict[str, Any] | None = None) -> None:
        self.service, self.collection, self.text = service, collection, text
        self.counts = counts
        self.ids: list[str] = []

    def add(self, data_dir: Path) -> dict[str, Any]:
        doc_id = f"added-{len(self.ids)}-{time.time_ns()}"
        docs = self.service.parse_records([{"title": f"Added {doc_id}", "id": doc_id,
                                            "text": f"{self.text} ({doc_id})"}])
        wait_merges(self.service)  # a merge of the previous write must not count here
        io, mine, size = io_counters(), io_counters("thread-self"), tree_bytes(data_dir)
        encode_s = self.counts["encode_s"] if self.counts else 0.0
        started = time.perf_counter()
        job, _ = self.service.add_documents(self.collection, docs)
        self.service.run_job(job)
        seconds = time.perf_counter() - started
        after, mine_after = io_counters(), io_counters("thread-self")
        self.ids.append(doc_id)
        encoded = self.counts["encode_s"] - encode_s if self.counts else None
        return {"ms": _ms(seconds), "index_ms": None if encoded is None else _ms(seconds - encoded),
                "wchar": mine_after["wchar"] - mine["wchar"],
                "write_bytes": mine_after["write_bytes"] - mine["write_bytes"],
                "process_wchar": after["wchar"] - io["wchar"],
                "size_growth": tree_bytes(data_dir) - size}

    def delete(self) -> dict[str, Any]:
        doc_id = self.ids.pop()
        wait_merges(self.service)
        io = io_counters("thread-self")
        started = time.perf_counter()
        job = self.service.delete_document(self.collection, doc_id)
        live = time.perf_counter()
        self.service.run_job(job)
        done = time.perf_counter()
        return {"ms": _ms(done - started), "live_ms": _ms(live - started),
                "wchar": io_counters("thread-self")["wchar"] - io["wchar"]}


def wait_merges(service: RagService) -> float | None:
    """Wait for the index manager's background merges, where it has them; the seconds
    waited (None: whole-generation indexes, nothing merges)."""
    wait = getattr(service.indexes, "wait_merges", None)
    if not callable(wait):
        return None
    started = time.perf_counter()
    wait()
    return time.perf_counter() - started


def _timed_query(service: RagService, collection: CollectionRow, name: str, query: str) -> float:
    started = time.perf_counter()
    service.retrieve(collection, query, retriever=name, top_k=10)
    return time.perf_counter() - started


def worst_during_add(service: RagService, collection: CollectionRow, added: _Added,
                     queries: Sequence[str], data_dir: Path) -> dict[str, Any]:
    """One add while a thread queries (bm25, dense) in a loop: the slowest query that
    started before the add finished."""
    stop = threading.Event()
    seen: list[tuple[float, float]] = []  # (start, seconds)

    def loop() -> None:
        n = 0
        while not stop.is_set():
            started = time.perf_counter()
            _timed_query(service, collection, ("bm25", "dense")[n % 2], queries[n % len(queries)])
            seen.append((started, time.perf_counter() - started))
            n += 1

    thread = threading.Thread(target=loop, name="scale-queries", daemon=True)
    thread.start()
    time.sleep(0.05)
    began = time.perf_counter()
    add = added.add(data_dir)
    ended = time.perf_counter()
    stop.set()
    thread.join()
    during = [s for start, s in seen if began <= start + s and start <= ended]
    return {"add_ms": add["ms"], "queries": len(during),
            "worst_ms": _ms(max(during)) if during else None}


def exact_top10(service: RagService, collection: CollectionRow, vectors: SyntheticVectors,
                queries: np.ndarray) -> list[set[int]]:
    """Exact top-10 chunk ids by inner product over every chunk's synthetic vector."""
    ids = service.store.chunk_ids(collection)
    scores_so_far = np.full((len(queries), 0), -np.inf)
    ids_so_far = np.zeros((len(queries), 0), np.int64)
    for start in range(0, len(ids), 20_000):
        part = ids[start:start + 20_000]
        rows = service.store.get_chunks(part)
        known = [(cid, rows[cid]) for cid in part if cid in rows]
        texts = [f"{r.title}\n{r.text}" if r.title else r.text for _, r in known]
        keep = [i for i, t in enumerate(texts) if vectors.vector(t) is not None]
        matrix = vectors.vectors([texts[i] for i in keep])
        scores = np.concatenate([scores_so_far, queries @ matrix.T], axis=1)
        cand = np.concatenate([ids_so_far, np.tile([known[i][0] for i in keep], (len(queries), 1))],
                              axis=1)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        scores_so_far = np.take_along_axis(scores, top, 1)
        ids_so_far = np.take_along_axis(cand, top, 1)
    return [set(row.tolist()) for row in ids_so_far]


def warm_measures(service: RagService, collection: CollectionRow, vectors: SyntheticVectors,
                  queries: Sequence[str], data_dir: Path, added: _Added,
                  ef_values: Sequence[int] = ()) -> dict[str, Any]:
    """Everything measured on the warm service after the bulk ingest; with segmented
    indexes also the index-level rows of `eval.scale_ann` (efSearch sweep, BM25 against
    one monolithic bm25s index)."""
    out: dict[str, Any] = {}
    _timed_query(service, collection, "bm25", queries[0])  # the bm25 matrix of the bulk
    query_vectors = np.asarray(service.embedder.encode(list(queries)))
    vectors.queries = dict(zip(queries, query_vectors, strict=True))
    try:
        dense = [service.retrieve(collection, q, retriever="dense", top_k=10).passages
             for q in queries]
        out["dense_excl_encoder"] = _summary(_latencies(
            lambda q: service.retrieve(collection, q, retriever="dense", top_k=10), queries))
    finally:
        vectors.queries = {}
    exact = exact_top10(service, collection, vectors, np.asarray(query_vectors))
    out["dense_recall_at_10"] = round(float(np.mean(
        [len({p.chunk_id for p in got} & want) / max(1, len(want))
         for got, want in zip(dense, exact, strict=True)])), 4)
    live = service.indexes.get(collection)
    if getattr(live, "segments", None) is not None:
        from eval.scale_ann import bm25_side_by_side, ef_sweep

        if ef_values:
            out["ef_sweep"] = ef_sweep(live, np.asarray(query_vectors), exact, ef_values)
        out["bm25_side_by_side"] = bm25_side_by_side(service, collection, live, queries)
    for name in RETRIEVERS:
        out[name] = _summary(_latencies(
            lambda q, r=name: service.retrieve(collection, q, retriever=r, top_k=10), queries))
    adds, after = [], []
    for i in range(3):
        adds.append(added.add(data_dir))
        after.append(_ms(_timed_query(service, collection, "bm25", queries[i % len(queries)])))
    split = [a["index_ms"] for a in adds if a["index_ms"] is not None]
    out["add_one"] = {"ms_median": float(np.median([a["ms"] for a in adds])), "runs": adds,
                      "index_ms_median": float(np.median(split)) if split else None,
                      "wchar_median": int(np.median([a["wchar"] for a in adds])),
                      "write_bytes_median": int(np.median([a["write_bytes"] for a in adds]))}
    out["next_bm25_ms"] = {"median": float(np.median(after)), "runs": after}
    out["during_add"] = worst_during_add(service, collection, added, queries, data_dir)
    out["merge"] = merge_cost(service, collection)  # the bulk's segments and the 4 adds'
    deletes = [added.delete() for _ in range(3)]
    out["delete_one"] = {"ms_median": float(np.median([d["ms"] for d in deletes])), "runs": deletes}
    added.delete()  # the one added during the query loop
    return out


def merge_cost(service: RagService, collection: CollectionRow) -> dict[str, Any]:
    """Time and bytes written (the whole process) of merging the collection into one
    segment, where the index manager has `merge`; otherwise why it was skipped."""
    merge = getattr(service.indexes, "merge", None)
    if not callable(merge):
        return {"skipped": "no segments to merge (whole-generation index writes)"}
    io = io_counters()
    started = time.perf_counter()
    report = merge(collection)
    return {"ms": _ms(time.perf_counter() - started), "wchar": io_counters()["wchar"] - io["wchar"],
            "report": report}


def reopen_measures(settings: Settings, embedder: Embedder, queries: Sequence[str],
                    added_text: str) -> dict[str, Any]:
    """Open the data dir again (model already loaded, warm page cache): open + load, the
    first answer of each retriever, the first add after open, RSS."""
    gc.collect()
    started = time.perf_counter()
    service = RagService(settings, embedder=embedder).open()
    try:
        collection = service.collection(COLLECTION)
        service.indexes.get(collection)
        out: dict[str, Any] = {"open_load_ms": _ms(time.perf_counter() - started), "first_ms": {}}
        for i, name in enumerate(RETRIEVERS):
            query = queries[i % len(queries)]
            out["first_ms"][name] = _ms(_timed_query(service, collection, name, query))
        out["open_to_first_answers_ms"] = _ms(time.perf_counter() - started)
        out["rss_kb"] = memory_kb()["VmRSS"]
        added = _Added(service, collection, added_text)
        out["first_add_ms"] = added.add(settings.data_dir)["ms"]
        added.delete()
    finally:
        service.close()
    return out


def measure_size(embedder: Embedder, settings: Settings, passages: Sequence[tuple[str, str]],
                 vectors: SyntheticVectors, queries: Sequence[str], n: int, *, batch: int,
                 progress: Progress | None = None,
                 after: Callable[[Settings, int], dict[str, Any]] | None = None,
                 ef_values: Sequence[int] = ()) -> dict[str, Any]:
    """Every measurement at one corpus size, in a fresh temporary data dir; `after`
    (e.g. the one-document-per-request HTTP run) gets the closed data dir last."""
    peak_reset = reset_peak()
    with tempfile.TemporaryDirectory(prefix="ragmem-scale-") as tmp:
        settings = settings.model_copy(update={"data_dir": Path(tmp)})
        added_text = passages[-1][1]
        with precomputed_encode(embedder, vectors) as counts:
            service = RagService(settings, embedder=embedder).open()
            try:
                collection = service.create_collection(COLLECTION)
                batches = bulk_ingest(service, collection, passages, n, batch, progress)
                waited = wait_merges(service)  # the bulk's background merges, if any
                chunks = service.store.chunk_count(collection)
                if chunks != n:
                    raise RuntimeError(f"the corpus made {chunks} chunks, not {n}")
                warm = warm_measures(service, collection, vectors, queries, Path(tmp),
                                     _Added(service, collection, added_text, counts), ef_values)
                live = service.indexes.get(collection)
                warm["stats"] = live.stats()
                if callable(getattr(live, "segment_stats", None)):  # segmented indexes
                    warm["segments"] = live.segment_stats()
                warm["disk_bytes"] = tree_bytes(Path(tmp))
            finally:
                service.close()
            warm["peak_rss_kb"] = memory_kb()["VmHWM"]
            reopen = reopen_measures(settings, embedder, queries, added_text)
        bulk = {"batches": batches, **linearity(batches),
                "merge_wait_ms": None if waited is None else _ms(waited)}
        result = {"chunks": n, "bulk": bulk, **warm,
                  "reopen": reopen, "peak_rss_reset": peak_reset,
                  "vectors": {"precomputed": counts["precomputed"], "encoded": counts["encoded"],
                              "encoded_distinct": counts["encoded_distinct"]}}
        if after is not None:
            result["per_doc"] = after(settings, n)
    return result


def run_scale(embedder: Embedder, settings: Settings, passages: Sequence[tuple[str, str]],
              queries: Sequence[str], sizes: Sequence[int], *, batch: int = 10_000,
              base: int = 1000, progress: Progress | None = None,
              after: Callable[[Settings, int], dict[str, Any]] | None = None,
              done: Callable[[dict[str, Any]], None] | None = None,
              ef_values: Sequence[int] = ()) -> dict[str, Any]:
    """`measure_size` for each size, one vector table for all; `done` gets the result so
    far after each size (a long run keeps what it measured)."""
    if not queries:
        raise ValueError("no queries to measure with")
    if batch < 1 or min(sizes) < 1:
        raise ValueError("sizes and the batch must be positive")
    vectors = SyntheticVectors(embedder, passages, base=base)
    result: dict[str, Any] = {
        "sizes": [], "passages": len(passages), "queries": len(queries), "batch": batch,
        "base_vectors": len(vectors.base), "embedder": embedder.name,
        "index_settings": settings.index.model_dump(mode="json"), "results": {}}
    for n in sizes:
        result["results"][str(n)] = measure_size(embedder, settings, passages, vectors, queries, n,
                                                 batch=batch, progress=progress, after=after,
                                                 ef_values=ef_values)
        result["sizes"].append(n)
        if done:
            done(result)
    return result
