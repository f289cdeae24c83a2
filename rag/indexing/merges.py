"""The background merge thread: one per index manager, merging one collection at a time.

Syncs `request` a collection after they persist; the thread asks the collection's merge
policy for a plan and carries it out until there is none, so merges never run on the
thread that acknowledges or indexes writes, and searches never wait on their work (only
on the pointer swap). A failed merge (a full disk) is logged and dropped; its sources
stay live and the next request plans it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class MergeThread:
    """Runs `work(key)` for requested keys on one daemon thread, each key once per request
    burst (a key requested while queued is not queued twice)."""

    def __init__(self, work: Callable[[object], None]) -> None:
        self._work = work
        self._queue: list[object] = []
        self._cond = threading.Condition()
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    def request(self, key: object) -> None:
        """Queue `key` (started on first use)."""
        with self._cond:
            if self._stopped:
                return
            if key not in self._queue:
                self._queue.append(key)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ragmem-merge", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                key = self._queue.pop(0)
                self._busy = True
            try:
                self._work(key)
            except Exception:  # a full disk, a vanished folder: the sources stay live
                log.exception("background merge failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def stop(self) -> None:
        """Finish the merge in progress, drop the queue and end the thread."""
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
