"""`ragmem bench scale --per-doc M`: M documents, one per request, through the real HTTP
API on loopback, into the collection the bulk ingest built.

The server is `ragmem serve` in its own process (the eval floor never imports the api
floor) on a free 127.0.0.1 port with auth off, over the data dir the bench just closed;
it loads its own copy of the model and embeds every document for real. Per write: the
202's latency and the time from sending to the job being done ("202 to indexed"), and
the bm25 query right after it, against the number of chunks in the collection.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import RagmemError

Progress = Callable[[str, int, int], None]


def free_port() -> int:
    """A loopback port no one listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ragmem_command() -> list[str]:
    """The installed `ragmem` entry point next to this interpreter (else on PATH)."""
    beside = Path(sys.executable).parent / "ragmem"
    found = str(beside) if beside.is_file() else shutil.which("ragmem")
    if found is None:
        raise RagmemError("the `ragmem` command is not installed next to this Python or on PATH")
    return [found]


@contextmanager
def served(data_dir: Path, *, timeout: float = 180.0, log_path: Path | None = None,
           env: dict[str, str] | None = None, name: str = "ragmem serve") -> Iterator[str]:
    """`ragmem serve` on a free loopback port over `data_dir` (auth off, `env` added to its
    environment), its output in `log_path` (default: beside the data dir); yields its base
    URL once /healthz answers, and stops it after (uvicorn's graceful shutdown first)."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = log_path or data_dir.parent / f"{data_dir.name}-serve.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603 - our own entry point, fixed arguments
        [*ragmem_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--auth", "off",
         "--data-dir", str(data_dir)], stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RagmemError(f"{name} exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RagmemError(f"no /healthz from {name} at {url} within {timeout:.0f}s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()  # uvicorn's graceful shutdown
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_done(client: Any, job_id: str, timeout: float = 600.0) -> None:
    """Poll the job until done: every 5 ms at first, backing off to 50 ms, so the polls
    (each logged by the server) do not take the 2 cores from the write they time."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "done":
            return
        if job["status"] == "failed":
            raise RagmemError(f"indexing job {job_id} failed: {job['error']}")
        time.sleep(pause)
        pause = min(0.05, pause * 1.5)
    raise RagmemError(f"indexing job {job_id} not done after {timeout:.0f}s")


def per_doc(data_dir: Path, collection: str, start: int, documents: Sequence[dict[str, str]],
            query: str, progress: Progress | None = None) -> dict[str, Any]:
    """Upload `documents` one per request and wait for each to be indexed.

    Returns:
        `writes`: per document, the chunks before it (`at`), `ack_ms` (to the 202),
        `indexed_ms` (sending to job done) and `bm25_ms` (the query right after); and
        the medians of the first and last tenth.
    """
    import httpx

    writes = []
    with served(data_dir) as url, httpx.Client(base_url=url, timeout=600) as client:
        # Warm the server's model and indexes first: the first write should not pay them.
        client.post(f"/v1/collections/{collection}/retrieve",
                    json={"query": query, "retriever": "hybrid", "top_k": 10})
        for i, doc in enumerate(documents):
            started = time.perf_counter()
            response = client.post(f"/v1/collections/{collection}/documents",
                                   json={"documents": [doc]})
            acked = time.perf_counter()
            if response.status_code != 202:
                raise RagmemError(f"upload answered {response.status_code}: {response.text}")
            job_id = response.json()["job_id"]
            if job_id is None:
                raise RagmemError(f"document {doc.get('id')} was a duplicate; nothing to index")
            _wait_done(client, job_id)
            indexed = time.perf_counter()
            found = client.post(f"/v1/collections/{collection}/retrieve",
                                json={"query": query, "retriever": "bm25", "top_k": 10})
            if found.status_code != 200:
                raise RagmemError(f"retrieve answered {found.status_code}: {found.text}")
            writes.append({"at": start + i, "ack_ms": round((acked - started) * 1000, 2),
                           "indexed_ms": round((indexed - started) * 1000, 2),
                           "bm25_ms": round((time.perf_counter() - indexed) * 1000, 2)})
            if progress:
                progress(f"per-doc HTTP at {start}", i + 1, len(documents))
    return {"documents": len(writes), "writes": writes, **flatness(writes)}


def flatness(writes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median `indexed_ms` of the first and the last tenth of the writes and their ratio
    (1.0: a write costs the same at the end as at the start)."""
    tenth = max(1, len(writes) // 10)
    first = float(np.median([w["indexed_ms"] for w in writes[:tenth]]))
    last = float(np.median([w["indexed_ms"] for w in writes[-tenth:]]))
    return {"first_indexed_ms": round(first, 2), "last_indexed_ms": round(last, 2),
            "last_over_first": round(last / first, 2) if first else None,
            "indexed_ms_p50": round(float(np.median([w["indexed_ms"] for w in writes])), 2),
            "bm25_ms_p50": round(float(np.median([w["bm25_ms"] for w in writes])), 2)}
