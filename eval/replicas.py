"""`ragmem bench replicas`: two `ragmem serve` replicas over one PostgreSQL and one index
dir (issue 14).

Both servers run in their own processes on free loopback ports (auth off), with the
same `RAGMEM_STORE__URL` and `--data-dir` (so one shared index dir); the eval floor never
imports the api floor. Measured:

- lag: a document uploaded to replica A (the 202) until `retrieve` on replica B returns
  it (bm25 on a token only that document has), polled every `poll_s`; p50/p95. It is the
  indexer's sync (on whichever replica holds the collection) plus B's next look at the
  manifest (at most `index.follow_interval_s` after it changed).
- asks/s: the same asks from `clients` threads, all to A (1 replica), then spread over
  A and B (2 replicas), in alternating rounds of one run, so the machine's noise hits both.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from eval.scale_http import served
from rag.errors import InvalidInputError, RagmemError

Progress = Callable[[str, int, int], None]
COLLECTION = "replicas"  # then a random suffix: each run starts on an empty collection
WORDS = ("harbor lantern granite orchard meadow falcon copper river glacier thunder violet "
         "compass saddle pepper marble candle willow ember quartz beacon tundra").split()


def check_store_url(url: str | None) -> str:
    """The PostgreSQL URL both replicas share.

    Raises:
        InvalidInputError: when it is missing or not a postgresql:// URL.
    """
    if not url or not url.startswith(("postgresql://", "postgres://")):
        raise InvalidInputError("bench replicas needs a PostgreSQL store: --store-url "
                                "postgresql://... (or RAGMEM_STORE__URL); replicas cannot "
                                "share SQLite")
    return url


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (numpy's linear one), rounded to 0.1."""
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 1) if values else 0.0


@contextmanager
def replica(data_dir: Path, store_url: str, name: str, log_dir: Path, *,
            timeout: float = 240.0, env: dict[str, str] | None = None) -> Iterator[str]:
    """One `ragmem serve` replica on `store_url`, its output in
    `log_dir/replica-<name>.log`; yields its base URL."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with served(data_dir, timeout=timeout, log_path=log_dir / f"replica-{name}.log",
                env={"RAGMEM_STORE__URL": store_url, **(env or {})},
                name=f"replica {name}") as url:
        yield url


def document(n: int) -> dict[str, str]:
    """A short document with a token no other has."""
    rng = np.random.default_rng(n)
    body = " ".join(rng.choice(WORDS, size=30))
    return {"id": f"d{n}", "title": f"Record {n}", "text": f"Record rep{n}tok. {body}."}


def found_on(client: Any, collection: str, n: int) -> bool:
    response = client.post(f"/v1/collections/{collection}/retrieve",
                           json={"query": f"rep{n}tok", "retriever": "bm25", "top_k": 3})
    if response.status_code != 200:
        raise RagmemError(f"retrieve answered {response.status_code}: {response.text}")
    return any(p["document_id"] == f"d{n}" for p in response.json()["results"])


def measure_lag(a: Any, b: Any, collection: str, docs: int, *, poll_s: float = 0.02, timeout: float = 60.0,
                progress: Progress | None = None) -> list[float]:
    """Upload `docs` documents one at a time to A; ms from each 202 to B finding it."""
    lags = []
    for n in range(docs):
        response = a.post(f"/v1/collections/{collection}/documents",
                          json={"documents": [document(n)]})
        acked = time.perf_counter()
        if response.status_code != 202:
            raise RagmemError(f"upload answered {response.status_code}: {response.text}")
        while not found_on(b, collection, n):
            if time.perf_counter() - acked > timeout:
                raise RagmemError(f"document d{n} not searchable on replica B after {timeout}s")
            time.sleep(poll_s)
        lags.append((time.perf_counter() - acked) * 1000)
        if progress:
            progress("lag A -> B", n + 1, docs)
    return lags


def asks_per_second(urls: Sequence[str], collection: str, questions: Sequence[str],
                    clients: int) -> float:
    """`questions` asked by `clients` threads, thread i on urls[i % len(urls)]."""
    import httpx

    work = list(questions)
    lock = threading.Lock()
    errors: list[str] = []

    def run(i: int) -> None:
        with httpx.Client(base_url=urls[i % len(urls)], timeout=120) as client:
            while True:
                with lock:
                    if not work:
                        return
                    question = work.pop()
                response = client.post(f"/v1/collections/{collection}/ask",
                                       json={"question": question, "retriever": "hybrid"})
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RagmemError(f"{len(errors)} asks failed, first: {errors[0]}")
    return len(questions) / (time.perf_counter() - started)


def run_replicas(store_url: str, *, docs: int = 30, asks: int = 40, clients: int = 4,
                 rounds: int = 2, log_dir: Path | None = None,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Start two replicas on a fresh index dir and measure lag and asks/s (see module);
    the servers' logs go to `log_dir` (default: a temporary folder, named on failure)."""

    store_url = check_store_url(store_url)
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="ragmem-replicas-logs-"))
    with tempfile.TemporaryDirectory(prefix="ragmem-replicas-") as tmp, ExitStack() as stack:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        try:
            return _measure(stack, data_dir, store_url, log_dir, docs, asks, clients, rounds,
                            progress)
        except RagmemError as exc:
            raise RagmemError(f"{exc} (replica logs in {log_dir})") from exc


def _measure(stack: ExitStack, data_dir: Path, store_url: str, log_dir: Path, docs: int,
             asks: int, clients: int, rounds: int, progress: Progress | None) -> dict[str, Any]:
    import httpx

    url_a = stack.enter_context(replica(data_dir, store_url, "a", log_dir))
    url_b = stack.enter_context(replica(data_dir, store_url, "b", log_dir))
    a = stack.enter_context(httpx.Client(base_url=url_a, timeout=120))
    b = stack.enter_context(httpx.Client(base_url=url_b, timeout=120))
    collection = f"{COLLECTION}-{uuid.uuid4().hex[:8]}"
    created = a.post("/v1/collections", json={"name": collection})
    if created.status_code != 201:
        raise RagmemError(f"creating the collection answered {created.status_code}")
    found_on(b, collection, -1)  # B loads the collection (and its model) before the clock
    lags = measure_lag(a, b, collection, docs, progress=progress)
    questions = [f"Which record mentions {WORDS[i % len(WORDS)]} and rep{i % docs}tok?"
                 for i in range(asks)]
    asks_per_second([url_a, url_b], collection, questions[:clients * 2], clients)  # warm both
    one, two = [], []
    for r in range(rounds):
        one.append(asks_per_second([url_a], collection, questions, clients))
        two.append(asks_per_second([url_a, url_b], collection, questions, clients))
        if progress:
            progress("asks 1 vs 2 replicas", r + 1, rounds)
    one_s, two_s = float(np.median(one)), float(np.median(two))
    return {"docs": docs, "asks": asks, "clients": clients, "rounds": rounds,
            "lag_ms_p50": percentile(lags, 50), "lag_ms_p95": percentile(lags, 95),
            "lag_ms_max": round(max(lags), 1), "asks_per_s_1": round(one_s, 2),
            "asks_per_s_2": round(two_s, 2), "speedup": round(two_s / one_s, 2),
            "asks_per_s_rounds": {"1": [round(x, 2) for x in one],
                                  "2": [round(x, 2) for x in two]}}


def replicas_table(result: dict[str, Any]) -> str:
    """The result as a markdown table."""
    return "\n".join([
        "| upload on A -> searchable on B p50 | p95 | max | asks/s 1 replica | asks/s 2 replicas"
        " | 2 / 1 |",
        "|---|---|---|---|---|---|",
        f"| {result['lag_ms_p50']} ms | {result['lag_ms_p95']} ms | {result['lag_ms_max']} ms | "
        f"{result['asks_per_s_1']} | {result['asks_per_s_2']} | {result['speedup']}x |"])
