"""`ragmem ingest --engine ray` (issue 15): Ray Data parses, chunks and embeds; the driver
commits.

    files --from_items--> flat_map(parse_path_rows)   tasks: read, parse, chunk, hash
          --map_batches(EmbedDocuments)               actor pool: one model load per actor
          --iter_rows (order kept)-->  driver: Store.add_documents (documents + chunks +
                                       an `add` op, one transaction per batch), the vectors
                                       put by chunk id, IndexManager.sync (a segment)

The commit is the local path's (`Store.add_documents`, the same prepared documents, in
the same order, so the same chunk ids and dedup); a batch is acknowledged (progress,
summary) only after it committed and its segment was written. A killed job rerun
resumes: the collection's content hashes are read first and handed to the actors,
which skip embedding documents already stored, and the commit finds them duplicates.
Ray is imported only here (and rag/ingest/ray_jobs.py), when the engine is used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexes.errors import MissingDependencyError
from rag.ingest.ray_tasks import (
    EmbedDocuments,
    embedder_kwargs,
    join_vectors,
    offline_env,
    parse_path_rows,
    row_document,
)
from rag.storage.store import CollectionRow

RAY_EXTRA = "pip install -e '.[ray]'"
BLOCK_BYTES = 256 * 1024  # about 128 parsed documents of ~2 KB
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the Ray job runs."""

    address: str | None = None  # None: ray.init() starts a local cluster
    workers: int = 1  # embedding actors
    gpus_per_worker: float = 0.0
    commit_chunks: int = 2048  # chunks per commit (and per segment)
    batch_docs: int = 64  # documents per actor call

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.gpus_per_worker < 0:
            raise ValueError(f"gpus_per_worker must be >= 0, got {self.gpus_per_worker}")
        if self.commit_chunks < 1 or self.batch_docs < 1:
            raise ValueError("commit_chunks and batch_docs must be >= 1")


def import_ray() -> Any:
    """The `ray` module with Ray Data.

    Raises:
        MissingDependencyError: naming the extra, when Ray is not installed.
    """
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(f"--engine ray needs Ray Data, the `ray` extra: {RAY_EXTRA}"
                                     ) from exc
    return ray


def connect(options: RayOptions) -> Any:
    """Join the cluster at `options.address`, or start a local one (once per process)."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=options.address, runtime_env={"env_vars": offline_env()},
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # commit order = file order: the same chunk ids
    ctx.enable_progress_bars = False  # the CLI draws its own bar from committed counts
    # Small blocks: one big JSON/JSONL file parses into many blocks, not one, so every
    # actor gets work (a repartition step instead waits forever for a CPU on a full pool).
    ctx.target_max_block_size = BLOCK_BYTES
    return ray


def actor_shape(ray: Any, options: RayOptions) -> tuple[float, int]:
    """(CPUs each actor asks for, torch threads it runs): the actors share the cluster's
    CPUs with a sliver left for the parse tasks, so they never wait on each other (Ray's
    CPUs are only a scheduling count; the threads are set apart)."""
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    per_actor = min(1.0, max(0.1, (cpus - 0.2) / options.workers))
    return per_actor, max(1, math.floor(cpus / options.workers))


def documents_dataset(ray: Any, files: Sequence[Path], *, index: Any, chunking: Any,
                      max_bytes: int, options: RayOptions, known: frozenset[str]) -> Any:
    """The lazy Ray Data pipeline: file -> document rows -> rows with vectors."""
    cpus, threads = actor_shape(ray, options)
    items = [{"file": i, "path": str(Path(p).resolve())} for i, p in enumerate(files)]
    parsed = ray.data.from_items(items).flat_map(
        parse_path_rows, num_cpus=0.1,
        fn_kwargs={"size": chunking.size, "overlap": chunking.overlap, "max_bytes": max_bytes})
    return parsed.map_batches(
        EmbedDocuments, batch_size=options.batch_docs,
        compute=ray.data.ActorPoolStrategy(size=options.workers),
        num_cpus=cpus, num_gpus=options.gpus_per_worker or None, batch_format="numpy",
        fn_constructor_kwargs={"embedder": embedder_kwargs(index, threads=threads),
                               "gpus": options.gpus_per_worker, "known": known})


def known_hashes(store: Any, collection: CollectionRow) -> frozenset[str]:
    """Content hashes the collection holds (read from the hash index, no document rows)."""
    return store.content_hashes(collection)


def added_chunk_ids(store: Any, collection: CollectionRow, seq: int | None) -> list[int]:
    """The chunk ids of the `add` op numbered `seq`, in document and span order."""
    if seq is None:
        return []
    return next((ids for s, kind, ids in store.ops_after(collection, seq - 1)
                 if s == seq and kind == "add"), [])


class Committer:
    """The driver's side: batches of rows -> one store transaction + one sync each."""

    def __init__(self, service: Any, collection: CollectionRow, *, commit_chunks: int,
                 progress: Progress | None = None) -> None:
        self.service = service
        self.collection = collection
        self.commit_chunks = commit_chunks
        self.progress = progress
        self.dim = service.embedder.dim
        self.pending: list[dict[str, Any]] = []
        self.pending_chunks = 0
        self.results: list[dict[str, str]] = []
        self.failures: list[dict[str, str]] = []
        self.done = self.seen = self.embedded = 0  # chunks committed / received / embedded there

    def add(self, row: dict[str, Any]) -> None:
        """Take one row from the stream; commits when a batch's worth is pending."""
        if row["error"]:
            self.failures.append({"file": str(row["path"]), "error": str(row["error"])})
            return
        self.pending.append(row)
        chunks = len(json.loads(row["spans"]))
        self.seen += chunks
        self.pending_chunks += chunks
        if self.pending_chunks >= self.commit_chunks:
            self.flush()
        elif self.progress:
            self.progress(self.done, self.seen)

    def flush(self) -> None:
        """Commit the pending rows, hand their vectors to the index, write the segment."""
        if not self.pending:
            return
        rows, self.pending, self.pending_chunks = self.pending, [], 0
        docs = [row_document(r) for r in rows]
        store, indexes = self.service.store, self.service.indexes
        results, seq = store.add_documents(self.collection, docs)
        ids = added_chunk_ids(store, self.collection, seq)
        put_ids, put_vectors, at = [], [], 0
        for row, doc, result in zip(rows, docs, results, strict=True):
            if result["status"] == "duplicate":
                continue
            n = len(doc.spans)
            if row["embedded"]:
                put_ids.extend(ids[at:at + n])
                put_vectors.append(join_vectors(row["vectors"], self.dim))
            at += n
        if put_ids:
            indexes.vectors.put(put_ids, np.concatenate(put_vectors))
            self.embedded += len(put_ids)
        try:
            indexes.sync(self.collection)
        finally:
            indexes.vectors.discard(put_ids)  # none is left unless the sync failed
        self.results.extend(results)
        self.done += sum(len(d.spans) for d in docs)
        if self.progress:
            self.progress(self.done, self.seen)


def ingest_files(service: Any, collection: CollectionRow, files: Sequence[Path],
                 options: RayOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Parse, chunk and embed `files` on Ray; commit and index them here, batch by batch.

    Returns:
        `documents` (per-document id and status, as the local path), `failed` (per file),
        `chunks` (committed, duplicates included) and `embedded` (vectors taken from Ray).
    """
    ray = connect(options)
    settings = service.settings
    known = known_hashes(service.store, collection)
    dataset = documents_dataset(ray, files, index=settings.index, chunking=settings.chunking,
                                max_bytes=settings.limits.max_upload_bytes, options=options,
                                known=known)
    committer = Committer(service, collection, commit_chunks=options.commit_chunks,
                          progress=progress)
    for row in dataset.iter_rows():
        committer.add(row)
    committer.flush()
    return {"documents": committer.results, "failed": committer.failures,
            "chunks": committer.done, "embedded": committer.embedded}


def run_ingest_job(service: Any, collection: CollectionRow, files: Sequence[Path],
                   options: RayOptions, progress: Progress | None = None,
                   ) -> tuple[str, dict[str, Any]]:
    """`ingest_files` as an `index` job: its done/total are the committed chunk counts
    (what `GET /v1/jobs/{id}` and the CLI's bar show); the job's result holds the counts.

    Returns:
        (the job id, `ingest_files`' summary).
    """
    job_id = service.store.create_job(collection, kind="index", total=0)
    summary: dict[str, Any] = {}

    def work(report: Progress) -> dict[str, Any]:
        summary.update(ingest_files(service, collection, files, options, report))
        return {"engine": "ray", "documents": len(summary["documents"]),
                "failed": len(summary["failed"]), "chunks": summary["chunks"],
                "embedded": summary["embedded"]}

    service.run_tracked(job_id, work, progress)
    return job_id, summary
