"""Vectors embedded elsewhere (a Ray job's actors), handed to the index manager by chunk id.

The sync embeds the chunks it adds (rag/indexing/manager.py); a chunk whose vector was
put here first is taken as it is instead, so a cluster's work is not done twice. A chunk
without one (a crash between commit and sync, a replay after a restart) is embedded by
the sync itself, so the indexes never depend on this cache being complete.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from indexes.base import Chunk


class ChunkEncoder(Protocol):
    def encode_chunks(self, chunks: Sequence[Chunk]) -> np.ndarray: ...


class PrecomputedVectors:
    """Chunk id -> unit vector, each taken once by the sync that indexes the chunk."""

    def __init__(self) -> None:
        self._vectors: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._vectors)

    def put(self, chunk_ids: Sequence[int], vectors: Any) -> None:
        """Keep `vectors[i]` for `chunk_ids[i]` until a sync takes it.

        Raises:
            ValueError: when the counts differ or the vectors are not a 2-d array.
        """
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim != 2 or len(array) != len(chunk_ids):
            raise ValueError(f"{len(chunk_ids)} chunk ids for vectors of shape {array.shape}")
        with self._lock:
            self._vectors.update(zip((int(i) for i in chunk_ids), array, strict=True))

    def discard(self, chunk_ids: Sequence[int]) -> None:
        """Forget vectors that no sync will take (a job that failed before its sync)."""
        with self._lock:
            for cid in chunk_ids:
                self._vectors.pop(int(cid), None)

    def encode(self, dense: ChunkEncoder, chunks: Sequence[Chunk]) -> np.ndarray:
        """Vectors of `chunks` in order: the ones put here, the others from `dense`."""
        with self._lock:
            known = {c.id: self._vectors.pop(c.id) for c in chunks if c.id in self._vectors}
        if not known:
            return dense.encode_chunks(chunks)
        missing = [c for c in chunks if c.id not in known]
        fresh = iter(dense.encode_chunks(missing)) if missing else iter(())
        return np.stack([known[c.id] if c.id in known else next(fresh) for c in chunks]
                        ).astype(np.float32, copy=False)
