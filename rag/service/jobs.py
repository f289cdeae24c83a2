"""A background worker that runs indexing jobs one at a time, off the event loop.

Jobs live in SQLite, so a job cut off by a stop is queued again at the next start.
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


JobHandler = Callable[[str], None]


class JobWorker:
    """One thread draining a queue of job ids, running each by its kind.

    `index` jobs run `RagService.run_job`; callers from higher floors register other kinds
    (the API registers `benchmark`).
    """

    def __init__(self, service: RagService, handlers: Mapping[str, JobHandler] | None = None) -> None:
        self.service = service
        self.handlers: dict[str, JobHandler] = {"index": service.run_job, **(handlers or {})}
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread and queue every unfinished job (running ones were cut off)."""
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
        while (job_id := self._queue.get()) != _STOP:
            try:
                kind = self.service.store.get_job(job_id)["kind"]
                handler = self.handlers.get(kind)
                if handler is None:
                    self.service.store.update_job(job_id, status="failed",
                                                  error=f"no handler for job kind {kind!r}")
                    continue
                handler(job_id)
            except (RagmemError, OSError, sqlite3.Error, ValueError, RuntimeError) as exc:
                # Already recorded on the job by run_job (unless SQLite itself failed);
                # the worker carries on.
                log.error("job %s failed: %s", job_id, exc)
