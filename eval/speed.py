"""`ragmem bench speed`: speed measured side by side in one run, reported as ratios.

1. BM25 query time of our index (bm25s) against `rank-bm25` on the same tokens, with
   top-10 agreement.
2. Ingestion passages/s (parse -> SQLite -> embed -> index -> generation on disk) against
   the embedder's own encode-only throughput on the same passages.
3. Retrieve latency p50/p95 per retriever as the corpus grows (e.g. 10K and 100K
   chunks). Larger corpora reuse the shared corpora's passages; their vectors are
   embedded once for a base set and tiled with small noise, which keeps exact-search
   cost honest without hours of embedding on a laptop.
4. With `--backends torch,onnx,onnx-int8` instead: the embedder backends side by side
   (whole-ingest and encode passages/s, single-query encode p50/p95, cosine to the first
   backend's vectors, ratios to it), rounds alternating between backends.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import Dataset
from eval.metrics import percentile
from indexes.base import Chunk
from indexes.bm25 import BM25Index
from indexes.dense import DenseIndex
from indexes.embedder import BACKENDS, Embedder
from rag.errors import InvalidInputError
from rag.retrieval.factory import build_retriever
from rag.service.core import RagService
from rag.settings import Settings

Progress = Callable[[str, int, int], None]


def _latencies(fn: Callable[[str], Any], queries: Sequence[str],
               embedder: Embedder | None = None) -> list[float]:
    """Milliseconds of `fn(query)` per query; `embedder` forgets its reused query vectors
    before each one, so every timed query is encoded (rounds and retrievers repeat them)."""
    out = []
    for query in queries:
        if embedder is not None:
            embedder.forget_recent()
        started = time.perf_counter()
        fn(query)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _summary(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(latencies, 50), 3), "p95_ms": round(percentile(latencies, 95), 3),
            "mean_ms": round(float(np.mean(latencies)), 3)}


def bm25_against_rank_bm25(texts: Sequence[str], queries: Sequence[str]) -> dict[str, Any]:
    """Query time and top-10 agreement of our BM25 against rank-bm25 on the same tokens."""
    from rank_bm25 import BM25Okapi

    ours = BM25Index()
    ours.add([Chunk(i, t) for i, t in enumerate(texts)])
    ours.search("warm up", 1)
    reference = BM25Okapi([ours.tokenizer(t) or [""] for t in texts], k1=ours.k1, b=ours.b)
    tokens = [ours.tokenizer(q) for q in queries]
    ours_ms, ref_ms, agreement = [], [], []
    for query, toks in zip(queries, tokens, strict=True):
        started = time.perf_counter()
        mine = [h.chunk_id for h in ours.search(query, 10)]
        ours_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        scores = reference.get_scores(toks)
        theirs = np.argsort(-scores, kind="stable")[:10].tolist()
        ref_ms.append((time.perf_counter() - started) * 1000)
        agreement.append(len(set(mine) & set(theirs)) / 10)
    return {"corpus": len(texts), "queries": len(queries), "ours": _summary(ours_ms),
            "rank_bm25": _summary(ref_ms),
            "speedup_mean": round(float(np.mean(ref_ms) / np.mean(ours_ms)), 1),
            "top10_agreement": round(float(np.mean(agreement)), 4)}


@contextmanager
def timed_encode(embedder: Embedder, texts: list[str] | None = None) -> Iterator[list[float]]:
    """Record the seconds of every `embedder.encode` call made inside the block (and the
    texts encoded, into `texts` when given).

    This splits an ingest into the embedder's own time and everything else in the same
    run, a measure that system load cannot skew the way two separately timed runs can.
    """
    calls: list[float] = []
    encode = embedder.encode

    def timed(batch: Sequence[str], **kwargs: Any) -> np.ndarray:
        if texts is not None:
            texts.extend(batch)
        started = time.perf_counter()
        try:
            return encode(batch, **kwargs)
        finally:
            calls.append(time.perf_counter() - started)

    embedder.encode = timed  # type: ignore[method-assign]  # this instance, this block only
    try:
        yield calls
    finally:
        del embedder.encode


def ingest_once(embedder: Embedder, settings: Settings, texts: Sequence[tuple[str, str]],
                embedded: list[str] | None = None) -> tuple[float, float]:
    """One whole ingest (parse -> SQLite -> embed -> BM25 -> generation with fsyncs) into a
    fresh data dir: (seconds, of which inside the embedder); the chunk texts it embedded
    are added to `embedded` when given."""
    with tempfile.TemporaryDirectory() as tmp:
        service = RagService(settings.model_copy(update={"data_dir": Path(tmp)}),
                             embedder=embedder).open()
        try:
            collection = service.create_collection("speed")
            records = [{"title": t, "text": x, "id": str(i)} for i, (t, x) in enumerate(texts)]
            with timed_encode(embedder, embedded) as calls:
                started = time.perf_counter()
                job, _ = service.add_documents(collection, service.parse_records(records))
                service.run_job(job)
                seconds = time.perf_counter() - started
        finally:
            service.close()
    return seconds, sum(calls)


def ingest_throughput(embedder: Embedder, settings: Settings, texts: Sequence[tuple[str, str]],
                      rounds: int = 3) -> dict[str, Any]:
    """Passages/s of the whole ingest path against encode-only, on the same passages.

    The encode-only reference embeds exactly the chunk texts the ingest embeds (passages
    over the chunk size are split, so there can be more chunks than passages), in one
    call. Ingest and encode-only alternate for `rounds` after a first ingest that learns
    those texts; each side's fastest round is kept (the least disturbed by other load).
    `non_embedder_share` is the part of each ingest spent outside `embedder.encode`, in
    the same run: the issue's "everything else" budget.
    """
    chunks: list[str] = []
    ingest_once(embedder, settings, texts, chunks)  # also warms SQLite and the page cache
    encode_s, ingest_s, inside_s = [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        embedder.encode(chunks)
        encode_s.append(time.perf_counter() - started)
        seconds, inside = ingest_once(embedder, settings, texts)
        ingest_s.append(seconds)
        inside_s.append(inside)
    encode, ingest = min(encode_s), min(ingest_s)
    other = [total - inside for total, inside in zip(ingest_s, inside_s, strict=True)]
    return {"passages": len(texts), "chunks": len(chunks), "rounds": rounds,
            "encode_only_per_s": round(len(texts) / encode, 2),
            "ingest_per_s": round(len(texts) / ingest, 2),
            "overhead": round(ingest / encode - 1, 4),
            "non_embedder_s": round(float(np.median(other)), 3),
            "non_embedder_share": round(float(np.median(
                [o / inside for o, inside in zip(other, inside_s, strict=True)])), 4),
            "encode_only_s": [round(x, 3) for x in encode_s],
            "ingest_s": [round(x, 3) for x in ingest_s]}


def latency_by_size(embedder: Embedder, settings: Settings, passages: Sequence[tuple[str, str]],
                    queries: Sequence[str], sizes: Sequence[int], *, base: int = 1000,
                    retrievers: Sequence[str] = ("bm25", "dense", "hybrid"),
                    progress: Progress | None = None) -> dict[str, Any]:
    """Retrieve latency per retriever on synthetic corpora of the given sizes."""
    rng = np.random.default_rng(0)
    base_vectors = embedder.encode([f"{t}\n{x}" for t, x in passages[:base]])
    out: dict[str, Any] = {}
    for size in sizes:
        dense, bm25 = DenseIndex(embedder), BM25Index()
        for start in range(0, size, 10_000):
            ids = np.arange(start, min(size, start + 10_000))
            vectors = base_vectors[ids % len(base_vectors)]
            vectors = vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            dense.add_vectors(ids.tolist(), vectors)
            bm25.add([Chunk(int(i), passages[i % len(passages)][1], passages[i % len(passages)][0])
                      for i in ids])
            if progress:
                progress(f"build {size}", int(ids[-1]) + 1, size)
        bm25.search("warm up", 1)
        indexes = {"dense": dense, "bm25": bm25}
        out[str(size)] = {}
        for name in retrievers:
            retriever = build_retriever(name, indexes, settings.retrieval)
            out[str(size)][name] = _summary(_latencies(lambda q, r=retriever: r.retrieve(q, 10),
                                                       queries, embedder))
    return out


def backend_embedders(settings: Settings, backends: Sequence[str]) -> dict[str, Embedder]:
    """One embedder per backend name, configured as the service configures its own."""
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends or len(set(backends)) != len(backends):
        raise InvalidInputError(f"--backends needs distinct names from {', '.join(BACKENDS)}, "
                                f"got {','.join(backends)!r}")
    index = settings.index
    cache = (settings.generation.models_dir or settings.data_dir / "models") / "embedder-onnx"
    return {b: Embedder(index.embedder, device=index.device if b == "torch" else "cpu",
                        batch_size=index.batch_size, torch_threads=index.torch_threads,
                        backend=b, cache_dir=cache) for b in backends}


def run_speed(embedder: Embedder, settings: Settings, datasets: Sequence[Dataset], *,
              sizes: Sequence[int] = (10_000, 100_000), ingest_passages: int = 500,
              ingest_rounds: int = 3, queries: int = 200, progress: Progress | None = None,
              backends: Sequence[str] | None = None) -> dict[str, Any]:
    """All three speed measurements in one run; with `backends`, the embedder backends
    compared instead (`ingest_passages` passages, `ingest_rounds` rounds, `queries` queries)."""
    seen, passages = set(), []
    for dataset in datasets:
        for p in dataset.passages:
            if (p.title, p.text) not in seen:
                seen.add((p.title, p.text))
                passages.append((p.title, p.text))
    questions = [q.question for d in datasets for q in d.questions][:queries]
    if backends:
        return {"passages": len(passages), "queries": len(questions),
                "backends": compare_backends(backend_embedders(settings, backends), settings,
                                             passages[:ingest_passages], questions,
                                             rounds=ingest_rounds, progress=progress)}
    texts = [f"{t}\n{x}" for t, x in passages]
    result = {"passages": len(passages), "queries": len(questions),
              "bm25_vs_rank_bm25": bm25_against_rank_bm25(texts, questions),
              "ingest": ingest_throughput(embedder, settings, passages[:ingest_passages],
                                          rounds=ingest_rounds),
              "latency": latency_by_size(embedder, settings, passages, questions, sizes,
                                         progress=progress)}
    return result


def compare_backends(embedders: dict[str, Embedder], settings: Settings,
                     passages: Sequence[tuple[str, str]], queries: Sequence[str], *,
                     rounds: int = 2, progress: Progress | None = None) -> dict[str, Any]:
    """Embedder backends side by side in one run, as ratios to the first one.

    Every round runs each backend in turn: one whole ingest of `passages` (parse, SQLite,
    embed, BM25, generation on disk; the time inside `encode` split out) and each query
    encoded alone. Each backend's fastest round is kept, the least disturbed by other load
    on a shared CPU. The cosine of each backend's vectors to the first's is over the same
    texts (the chunks the ingest embedded).
    """
    names = list(embedders)
    if not names:
        raise ValueError("compare_backends needs at least one embedder")
    ingest: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    query_ms: dict[str, list[float]] = {n: [] for n in names}
    chunks: list[str] = []
    for embedder in embedders.values():  # load and warm up outside the clock
        embedder.encode([f"{t}\n{x}" for t, x in passages[:8]])
        embedder.encode([queries[0]])
    steps, done = rounds * len(names), 0
    for _ in range(rounds):
        for name, embedder in embedders.items():
            ingest[name].append(ingest_once(embedder, settings, passages,
                                            chunks if not chunks else None))
            query_ms[name].extend(_latencies(lambda q, e=embedder: e.encode([q]), queries,
                                             embedder))
            done += 1
            if progress:
                progress("backends", done, steps)
    vectors = {n: e.encode(chunks) for n, e in embedders.items()}
    base = names[0]
    out: dict[str, Any] = {"passages": len(passages), "chunks": len(chunks), "queries": len(queries),
                           "rounds": rounds, "backends": {}}
    for name in names:
        total, inside = min(ingest[name])
        cos = np.sum(vectors[name] * vectors[base], axis=1)
        row = {"embedder": embedders[name].name,
               "ingest_per_s": round(len(passages) / total, 2),
               "encode_per_s": round(len(passages) / inside, 2),
               "ingest_s": [round(t, 2) for t, _ in ingest[name]],
               "query": _summary(query_ms[name]),
               f"cos_vs_{base}_min": round(float(cos.min()), 4),
               f"cos_vs_{base}_mean": round(float(cos.mean()), 4)}
        if name != base:
            ref = out["backends"][base]
            row["ingest_speedup"] = round(row["ingest_per_s"] / ref["ingest_per_s"], 2)
            row["encode_speedup"] = round(row["encode_per_s"] / ref["encode_per_s"], 2)
            row["query_p50_speedup"] = round(ref["query"]["p50_ms"] / row["query"]["p50_ms"], 2)
        out["backends"][name] = row
    return out
