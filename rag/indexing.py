"""Keeps each collection's indexes in step with the SQLite ops log.

An index generation records the last op it reflects (`applied_seq`). Bringing a
collection up to date means replaying the newer ops: deletes first (chunk ids are never
reused, so order between adds and deletes does not matter), then adds in batches,
embedding (and OpenIE, for collections with a knowledge graph) outside the read lock.
A missing or corrupt generation is rebuilt from SQLite.

The knowledge graph is opt-in per collection: it is built from SQLite on the first
`hipporag` query (or `ragmem kg build`), then kept up to date like the other indexes.
Collections without it pay nothing for OpenIE at ingestion.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from indexes.base import Chunk, Index
from indexes.bm25 import BM25Index
from indexes.dense import DenseIndex
from indexes.embedder import Embedder
from indexes.errors import EmbedderMismatchError, IndexFormatError
from indexes.kg import KGSettings, KnowledgeGraphIndex, OpenIECache
from rag.generations import current_generation, read_manifest, write_generation
from rag.settings import GraphSettings, IndexSettings
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
        self.kg: KnowledgeGraphIndex | None = None
        self.applied_seq = 0
        self.lock = threading.RLock()
        self.writer = threading.Lock()

    @property
    def indexes(self) -> dict[str, Index]:
        """Every index of the collection by name (`hipporag` once its graph is built)."""
        found: dict[str, Index] = {"dense": self.dense, "bm25": self.bm25}
        if self.kg is not None:
            found["hipporag"] = self.kg
        return found

    def save(self, folder: Path) -> None:
        """Write every index into `folder`."""
        for index in self.indexes.values():
            index.save(folder)

    def stats(self) -> dict[str, Any]:
        """Per-index statistics and the applied op seq."""
        return {"applied_seq": self.applied_seq,
                **{name: index.stats() for name, index in self.indexes.items()}}


class IndexManager:
    """Loads, updates and persists the indexes of every collection under `root`."""

    def __init__(self, store: Store, embedder: Embedder, root: Path, settings: IndexSettings,
                 graph: GraphSettings | None = None):
        self.store = store
        self.embedder = embedder
        self.root = Path(root)
        self.settings = settings
        self.graph = graph or GraphSettings()
        self._live: dict[str, CollectionIndexes] = {}
        self._lock = threading.Lock()

    def folder(self, name: str) -> Path:
        """The collection's index folder."""
        return self.root / name

    def make_kg(self, dense: DenseIndex) -> KnowledgeGraphIndex:
        """A knowledge-graph index sharing the collection's dense index and the OpenIE cache."""
        g = self.graph
        settings = KGSettings(mode=g.mode, damping=g.damping, synonymy_threshold=g.synonymy_threshold,
                              dense_prior_weight=g.dense_prior_weight,
                              prefer_sources=tuple(g.prefer_sources))
        return KnowledgeGraphIndex(self.embedder, dense=dense, cache=OpenIECache(self.store.path),
                                   settings=settings)

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
            live.dense.load(folder)
            live.bm25.load(folder)
            if (folder / "kg.json").exists():
                live.kg = self.make_kg(live.dense)
                live.kg.load(folder)
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
            return self._sync_locked(live, progress)

    def _sync_locked(self, live: CollectionIndexes, progress: Progress | None,
                     *, force_save: bool = False) -> int:
        collection = live.collection
        ops = self.store.ops_after(collection, live.applied_seq)
        if not ops and not force_save:
            return 0
        deleted = {cid for _, kind, ids in ops if kind == "delete" for cid in ids}
        to_add = [cid for _, kind, ids in ops if kind == "add" for cid in ids if cid not in deleted]
        with live.lock:
            for index in live.indexes.values():
                index.delete(sorted(deleted))
        self._add(live, to_add, progress)
        with live.lock:
            live.applied_seq = ops[-1][0] if ops else live.applied_seq
            manifest = {"collection_id": collection.id, "embedder": self.embedder.name,
                        "dim": self.embedder.dim, "applied_seq": live.applied_seq}
            write_generation(self.folder(collection.name), manifest, live.save)
        self.store.mark_indexed(collection, to_add)
        return len(to_add)

    def _chunks(self, chunk_ids: Sequence[int]) -> list[Chunk]:
        rows = self.store.get_chunks(chunk_ids)
        return [Chunk(r.id, r.text, r.title) for r in (rows[i] for i in chunk_ids if i in rows)]

    def _add(self, live: CollectionIndexes, chunk_ids: list[int], progress: Progress | None) -> None:
        total = len(chunk_ids)
        if progress:
            progress(0, total)
        for start in range(0, total, BATCH):
            chunks = self._chunks(chunk_ids[start:start + BATCH])
            vectors = live.dense.encode_chunks(chunks)
            facts = live.kg.extract(chunks) if live.kg is not None else None
            with live.lock:
                live.dense.add_vectors([c.id for c in chunks], vectors)
                live.bm25.add(chunks)
            if live.kg is not None and facts is not None:
                # The graph adds after the dense vectors, whose scores form its prior.
                with live.lock:
                    live.kg.add_results([(c.id, f) for c, f in zip(chunks, facts, strict=True)])
            if progress:
                progress(min(start + BATCH, total), total)

    def build_kg(self, collection: CollectionRow, progress: Progress | None = None,
                 *, rebuild: bool = False) -> KnowledgeGraphIndex:
        """Build the collection's knowledge graph from SQLite (once; again with `rebuild`)."""
        live = self.get(collection)
        with live.writer:
            if live.kg is not None and not rebuild:
                return live.kg
            self._sync_locked(live, None)
            kg = self.make_kg(live.dense)
            ids = [r["id"] for r in self.store.query(
                "SELECT id FROM chunks WHERE collection_id=? ORDER BY id", (collection.id,))]
            for start in range(0, len(ids), BATCH):
                kg.add(self._chunks(ids[start:start + BATCH]))
                if progress:
                    progress(min(start + BATCH, len(ids)), len(ids))
            with live.lock:
                live.kg = kg
            self._sync_locked(live, None, force_save=True)
            return kg

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
