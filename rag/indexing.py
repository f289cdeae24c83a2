"""Keeps each collection's indexes in step with the SQLite ops log.

An index generation records the last op it reflects (`applied_seq`). Bringing a
collection up to date means replaying the newer ops: deletes first (chunk ids are never
reused, so order between adds and deletes does not matter), then adds in batches,
embedding outside the read lock. A missing or corrupt generation is rebuilt from SQLite.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexes.base import Chunk, Index
from indexes.bm25 import BM25Index
from indexes.dense import DenseIndex
from indexes.embedder import Embedder
from indexes.errors import EmbedderMismatchError, IndexFormatError
from rag.generations import current_generation, read_manifest, write_generation
from rag.settings import IndexSettings
from rag.store import CollectionRow, Store

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
BATCH = 256


class CollectionIndexes:
    """The live indexes of one collection and the op sequence number they reflect.

    Searches and index writes hold `lock` briefly; `writer` serializes whole syncs.
    """

    def __init__(self, collection: CollectionRow, embedder: Embedder, settings: IndexSettings):
        self.collection = collection
        self.dense = DenseIndex(embedder)
        self.bm25 = BM25Index(k1=settings.bm25_k1, b=settings.bm25_b)
        self.applied_seq = 0
        self.lock = threading.RLock()
        self.writer = threading.Lock()

    @property
    def indexes(self) -> dict[str, Index]:
        """Every index of the collection by name."""
        return {"dense": self.dense, "bm25": self.bm25}

    def save(self, folder: Path) -> None:
        """Write every index into `folder`."""
        for index in self.indexes.values():
            index.save(folder)

    def load(self, folder: Path) -> None:
        """Read every index from `folder`."""
        for index in self.indexes.values():
            index.load(folder)

    def stats(self) -> dict[str, Any]:
        """Per-index statistics and the applied op seq."""
        return {"applied_seq": self.applied_seq,
                **{name: index.stats() for name, index in self.indexes.items()}}


class IndexManager:
    """Loads, updates and persists the indexes of every collection under `root`."""

    def __init__(self, store: Store, embedder: Embedder, root: Path, settings: IndexSettings):
        self.store = store
        self.embedder = embedder
        self.root = Path(root)
        self.settings = settings
        self._live: dict[str, CollectionIndexes] = {}
        self._lock = threading.Lock()

    def folder(self, name: str) -> Path:
        """The collection's index folder."""
        return self.root / name

    def get(self, collection: CollectionRow) -> CollectionIndexes:
        """The collection's live indexes, loaded from disk and caught up on first use.

        Raises:
            EmbedderMismatchError: when the collection is pinned to another embedder.
        """
        with self._lock:
            live = self._live.get(collection.name)
            fresh = live is None or live.collection.id != collection.id
            if fresh:
                live = self._load(collection)
                self._live[collection.name] = live
        if fresh and live.applied_seq < self.store.last_op_seq(collection):
            # First use in this process and the files are behind SQLite (a crash between
            # commit and index write, or a lost/corrupt generation): replay the ops now.
            self.sync(collection)
        return live

    def _load(self, collection: CollectionRow) -> CollectionIndexes:
        if collection.embedder != self.embedder.name or collection.dim != self.embedder.dim:
            raise EmbedderMismatchError(
                f"collection {collection.name!r} is pinned to {collection.embedder} "
                f"(dim {collection.dim}) but the service runs {self.embedder.name} "
                f"(dim {self.embedder.dim}); set RAGMEM_INDEX__EMBEDDER={collection.embedder}")
        live = CollectionIndexes(collection, self.embedder, self.settings)
        folder = current_generation(self.folder(collection.name))
        if folder is None:
            return live
        try:
            manifest = read_manifest(folder)
            if manifest.get("collection_id") != collection.id:
                raise IndexFormatError(f"{folder}: belongs to another collection")
            live.load(folder)
            live.applied_seq = int(manifest["applied_seq"])
        except IndexFormatError as exc:
            log.warning("rebuilding %s from SQLite: %s", collection.name, exc)
            live = CollectionIndexes(collection, self.embedder, self.settings)
        return live

    def sync(self, collection: CollectionRow, progress: Progress | None = None) -> int:
        """Apply the ops newer than the live generation and persist a new generation.

        Returns:
            The number of chunks added.
        """
        live = self.get(collection)
        with live.writer:
            ops = self.store.ops_after(collection, live.applied_seq)
            if not ops:
                return 0
            deleted = {cid for _, kind, ids in ops if kind == "delete" for cid in ids}
            to_add = [cid for _, kind, ids in ops if kind == "add" for cid in ids
                      if cid not in deleted]
            with live.lock:
                for index in live.indexes.values():
                    index.delete(sorted(deleted))
            self._add(live, to_add, progress)
            with live.lock:
                live.applied_seq = ops[-1][0]
                manifest = {"collection_id": collection.id, "embedder": self.embedder.name,
                            "dim": self.embedder.dim, "applied_seq": live.applied_seq}
                write_generation(self.folder(collection.name), manifest, live.save)
            self.store.mark_indexed(collection, to_add)
            return len(to_add)

    def _add(self, live: CollectionIndexes, chunk_ids: list[int], progress: Progress | None) -> None:
        total = len(chunk_ids)
        if progress:
            progress(0, total)
        for start in range(0, total, BATCH):
            batch = chunk_ids[start:start + BATCH]
            rows = self.store.get_chunks(batch)
            chunks = [Chunk(r.id, r.text, r.title) for r in (rows[i] for i in batch if i in rows)]
            vectors = live.dense.encode_chunks(chunks)
            with live.lock:
                live.dense.add_vectors([c.id for c in chunks], vectors)
                for name, index in live.indexes.items():
                    if name != "dense":
                        index.add(chunks)
            if progress:
                progress(min(start + BATCH, total), total)

    def apply_delete_now(self, collection: CollectionRow, chunk_ids: list[int]) -> None:
        """Remove chunks from the live indexes at once (the next sync persists it)."""
        live = self.get(collection)
        with live.lock:
            for index in live.indexes.values():
                index.delete(chunk_ids)

    def drop(self, name: str) -> None:
        """Forget a deleted collection's indexes and remove its files."""
        with self._lock:
            self._live.pop(name, None)
        shutil.rmtree(self.folder(name), ignore_errors=True)
