"""`ragmem bench ingest` (issue 15): passages/s of the local ingest path against Ray Data's
on the same files, in one run, each into a fresh data dir.

What the clock covers, for each engine: from the file list to every document committed
and indexed (parse, chunk, embed, store, segment). Before it: the driver's model is
loaded (a warm server or CLI) and, for Ray, the cluster is up (`ray.init`); Ray's actor
start and per-actor model load are inside it, since every job pays them. The local
engine runs first and again last; its figure is the mean of the two (the machine is
shared, so a drift shows as the gap between them).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.settings import Settings

ServiceFactory = Callable[[Path], Any]


def ingest_local(service: Any, files: Sequence[Path]) -> int:
    """The CLI's local path: parse each file, one commit, one index job. Returns chunks."""
    kb = service.collection("kb", create=True)
    docs = [d for f in files for d in service.parse_files([(f.name, f.read_bytes())])]
    job_id, _ = service.add_documents(kb, docs)
    if job_id:
        service.run_job(job_id)
    return service.store.chunk_count(kb)


def ingest_ray(service: Any, files: Sequence[Path], options: Any) -> int:
    """`--engine ray`'s path (rag/ingest/ray_engine.py). Returns chunks."""
    from rag.ingest.ray_engine import run_ingest_job

    kb = service.collection("kb", create=True)
    run_ingest_job(service, kb, files, options)
    return service.store.chunk_count(kb)


def timed(make_service: ServiceFactory, run: Callable[[Any], int]) -> dict[str, Any]:
    """Run one engine into a fresh data dir: wall seconds and passages/s."""
    folder = Path(tempfile.mkdtemp(prefix="ragmem-bench-ingest-"))
    try:
        service = make_service(folder)
        try:
            started = time.perf_counter()
            chunks = run(service)
            seconds = time.perf_counter() - started
        finally:
            service.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"chunks": chunks, "seconds": round(seconds, 2),
            "passages_per_s": round(chunks / max(seconds, 1e-9), 1)}


def overhead(ray_s: float, local_s: float) -> float:
    """Ray's extra wall time as a share of the local path's (pure): 0.1 = 10% slower."""
    return round(ray_s / local_s - 1.0, 3)


def bench_ingest(files: Sequence[Path], *, engines: Sequence[str], workers: Sequence[int],
                 settings: Settings, embedder: Any, address: str | None = None,
                 gpus_per_worker: float = 0.0, progress: Callable[[str], None] | None = None,
                 ) -> dict[str, Any]:
    """Each engine (and Ray at each worker count) on `files`; local first and last.

    Returns:
        `runs` (engine, workers, chunks, seconds, passages_per_s), `local_s` (the mean
        local time), `ray` (per worker count: seconds, passages/s, `overhead` against
        local), `ray_init_s` and the settings that matter.
    """
    from rag.service.core import RagService

    embedder.load()

    def make(folder: Path) -> Any:
        return RagService(settings.model_copy(update={"data_dir": folder}), embedder=embedder).open()

    runs: list[dict[str, Any]] = []

    def local_run() -> None:
        if progress:
            progress("local")
        runs.append({"engine": "local", "workers": 1,
                     **timed(make, lambda s: ingest_local(s, files))})

    result: dict[str, Any] = {"files": [str(f) for f in files], "embedder": embedder.name,
                              "runs": runs}
    if "local" in engines:
        local_run()
    if "ray" in engines:
        from rag.ingest.ray_engine import RayOptions, connect

        started = time.perf_counter()
        ray = connect(RayOptions(address=address))
        result["ray_init_s"] = round(time.perf_counter() - started, 2)
        result["ray_cpus"] = ray.cluster_resources().get("CPU")
        result["ray_gpus"] = ray.cluster_resources().get("GPU", 0)
        for n in workers:
            if progress:
                progress(f"ray, {n} worker(s)")
            options = RayOptions(address=address, workers=n, gpus_per_worker=gpus_per_worker)
            runs.append({"engine": "ray", "workers": n,
                         **timed(make, lambda s, o=options: ingest_ray(s, files, o))})
    if "local" in engines and "ray" in engines:
        local_run()  # again last: the mean of both brackets the machine's drift
    local = [r["seconds"] for r in runs if r["engine"] == "local"]
    if local:
        result["local_s"] = round(sum(local) / len(local), 2)
        result["ray"] = {str(r["workers"]): {"seconds": r["seconds"],
                                             "passages_per_s": r["passages_per_s"],
                                             "overhead": overhead(r["seconds"], result["local_s"])}
                         for r in runs if r["engine"] == "ray"}
    return result
