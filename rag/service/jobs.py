"""A background worker that runs jobs one at a time, off the event loop.

Jobs live in the database. Under SQLite (one process) the worker runs the jobs it is
handed, and at start queues again the unfinished ones (cut off by a stop). With several
replicas on PostgreSQL any replica accepts writes, so a job may have been created by
another process: each worker polls every `tick` seconds (and when handed a job) and
claims jobs in the database (FOR UPDATE SKIP LOCKED: each one by one worker): any
replica runs any non-index job, and only a collection's indexer (its lease, see
rag/storage/lock.py) claims its index jobs, running ones included, which a dead
indexer left behind. One sync applies every pending op, so it finishes every index job
claimed with it. An indexer also syncs when the ops log is ahead of its manifest with
no job in sight (a replica killed between its commit and its job row).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Mapping

from rag.errors import RagmemError
from rag.service.core import RagService

log = logging.getLogger(__name__)

_STOP = "__stop__"
CLAIM_BATCH = 1000  # index jobs of one collection finished by one sync

JobHandler = Callable[[str], None]


class JobWorker:
    """One thread draining jobs, running each by its kind.

    `index` jobs run `RagService.run_job`; callers from higher floors register other kinds
    (the API registers `benchmark`).
    """

    def __init__(self, service: RagService, handlers: Mapping[str, JobHandler] | None = None,
                 *, tick: float = 1.0) -> None:
        self.service = service
        self.handlers: dict[str, JobHandler] = {"index": service.run_job, **(handlers or {})}
        self.tick = tick
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread; under SQLite, queue every unfinished job (running ones were
        cut off). Replicas leave them to the claims (another replica may run them)."""
        if not self.service.replicated:
            for job in self.service.store.unfinished_jobs():
                self.service.store.update_job(job["id"], status="queued")
                self._queue.put(job["id"])
        self._thread = threading.Thread(target=self._run, name="ragmem-jobs", daemon=True)
        self._thread.start()

    def submit(self, job_id: str | None) -> None:
        """Queue a job (None is ignored: nothing to do)."""
        if job_id is not None:
            self._queue.put(job_id)

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current job and stop."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def idle(self) -> bool:
        """True when no job is queued (one may still be running)."""
        return self._queue.empty()

    def _run(self) -> None:
        replicated = self.service.replicated
        while True:
            try:
                job_id = self._queue.get(timeout=self.tick if replicated else None)
            except queue.Empty:
                job_id = None
            if job_id == _STOP:
                return
            try:
                if replicated:
                    self.poll()
                elif job_id is not None and self.service.store.claim_jobs(job_id=job_id):
                    self._handle(job_id)
            except (RagmemError, OSError, sqlite3.Error, ValueError, RuntimeError) as exc:
                # Already recorded on the job by run_job (unless the database itself
                # failed); the worker carries on.
                log.error("job %s failed: %s", job_id, exc)
            except Exception as exc:  # a PostgreSQL error (its driver is not imported here)
                log.exception("job worker: %s", exc)

    def _handle(self, job_id: str) -> None:
        kind = self.service.store.get_job(job_id)["kind"]
        handler = self.handlers.get(kind)
        if handler is None:
            self.service.store.update_job(job_id, status="failed",
                                          error=f"no handler for job kind {kind!r}")
            return
        handler(job_id)

    def poll(self) -> int:
        """Claim and run what this replica may run now; returns the jobs run."""
        store, ran = self.service.store, 0
        for job_id in store.claim_jobs(not_kind="index"):
            self._handle(job_id)
            ran += 1
        for name in [c["name"] for c in store.list_collections()]:
            collection = store.get_collection(name)
            indexes = self.service.indexes
            if not indexes.indexes_here(collection):
                continue
            ids = store.claim_jobs(kind="index", collection_id=collection.id,
                                   statuses=("queued", "running"), limit=CLAIM_BATCH)
            if ids:
                self.service.run_index_jobs(collection, ids)
                ran += len(ids)
            elif indexes.get(collection).applied_seq < store.last_op_seq(collection):
                indexes.sync(collection)
        return ran
