"""The server's index jobs on Ray (issue 15): `RAGMEM_INDEX__ENGINE=ray`.

An upload is committed before its 202, so what a job has left is the embedding of the
chunks its ops added. A job with `index.ray_threshold` such chunks or more sends them to
a Ray actor pool (EmbedChunks: one model load per actor, a GPU's stream path when
`ray_gpus_per_worker` > 0); the vectors come back by chunk id into the index manager's
`PrecomputedVectors`, and the usual sync writes the segment without embedding again.
Smaller jobs, and every job with the local engine, sync as before. Progress: the
embedded chunks, then the sync's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rag.ingest.ray_engine import RayOptions, actor_shape, connect
from rag.ingest.ray_tasks import EmbedChunks, embedder_kwargs
from rag.storage.store import CollectionRow

Progress = Callable[[int, int], None]
WINDOW = 20_000  # chunks read from the store and sent to Ray at a time


def options_from(index: Any) -> RayOptions:
    """RayOptions from the service's `IndexSettings`."""
    return RayOptions(address=index.ray_address, workers=index.ray_workers,
                      gpus_per_worker=index.ray_gpus_per_worker)


def pending_chunk_ids(store: Any, collection: CollectionRow, applied_seq: int) -> list[int]:
    """Chunk ids that the ops after `applied_seq` add and do not delete again."""
    ops = store.ops_after(collection, applied_seq)
    deleted = {cid for _, kind, ids in ops if kind == "delete" for cid in ids}
    return [cid for _, kind, ids in ops if kind == "add" for cid in ids if cid not in deleted]


def uses_ray(index: Any, pending: int) -> bool:
    """True when a job of `pending` chunks goes to the Ray cluster (pure)."""
    return index.engine == "ray" and pending > 0 and pending >= index.ray_threshold


def embed_chunks(service: Any, chunk_ids: list[int], options: RayOptions,
                 progress: Progress | None = None) -> int:
    """Embed stored chunks on Ray; their vectors go into `service.indexes.vectors`.

    Returns:
        How many vectors came back.
    """
    ray = connect(options)
    cpus, threads = actor_shape(ray, options)
    kwargs = embedder_kwargs(service.settings.index, threads=threads)
    done = 0
    for start in range(0, len(chunk_ids), WINDOW):
        rows = service.store.get_chunks(chunk_ids[start:start + WINDOW])
        items = [{"id": r.id, "text": f"{r.title}\n{r.text}" if r.title else r.text}
                 for r in rows.values()]
        dataset = ray.data.from_items(items).map_batches(
            EmbedChunks, batch_size=256, compute=ray.data.ActorPoolStrategy(size=options.workers),
            num_cpus=cpus, num_gpus=options.gpus_per_worker or None, batch_format="numpy",
            fn_constructor_kwargs={"embedder": kwargs, "gpus": options.gpus_per_worker})
        for batch in dataset.iter_batches(batch_size=1024, batch_format="numpy"):
            vectors = np.stack([np.frombuffer(v, dtype=np.float32) for v in batch["vector"]])
            service.indexes.vectors.put([int(i) for i in batch["id"]], vectors)
            done += len(vectors)
            if progress:
                progress(done, len(chunk_ids))
    return done


def index_job(service: Any, collection: CollectionRow, progress: Progress | None = None,
              ) -> int | dict[str, Any]:
    """Run an index job: through Ray when the engine and the job's size say so.

    Returns:
        The number of chunks the sync added; for a job that went to Ray, a dict (the
        job's result): `engine`, `embedded` (vectors from Ray) and `added`.
    """
    index = service.settings.index
    if index.engine != "ray":
        return service.indexes.sync(collection, progress)
    live = service.indexes.get(collection)
    pending = pending_chunk_ids(service.store, collection, live.applied_seq)
    if not uses_ray(index, len(pending)):
        return service.indexes.sync(collection, progress)
    try:
        embedded = embed_chunks(service, pending, options_from(index), progress)
        added = service.indexes.sync(collection, None)  # the vectors are there: no re-embedding
        return {"engine": "ray", "embedded": embedded, "added": added}
    finally:
        service.indexes.vectors.discard(pending)  # none is left unless something failed
