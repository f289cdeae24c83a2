"""Keeps each collection's indexes in step with the SQLite ops log.

The manifest on disk records the last op it reflects (`applied_seq`). Bringing a
collection up to date means replaying the newer ops: deletes first, as tombstones (chunk
ids are never reused, so order between adds and deletes does not matter), then adds in
batches, embedding (and OpenIE, for collections with a knowledge graph) outside the read
lock; the sync then writes one new segment (rag/indexing/collection.py), and a
background thread merges segments (rag/indexing/merges.py). A missing or corrupt
segment is rebuilt from SQLite; the previous format (whole generations) is converted.

The knowledge graph is opt-in per collection: it is built from SQLite on the first
`hipporag` query (or `ragmem kg build`), then kept up to date like the other indexes.
Collections without it pay nothing for OpenIE at ingestion. Its triples come from the
OpenIE cache (imported HippoRAG files first), else from the extractor: the configured
LLM when the service has one, else spaCy. A graph built from other sources than the
current settings would pick is rebuilt (`build_kg`), so imports take effect.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from indexes.base import Chunk
from indexes.embedder import Embedder
from indexes.errors import EmbedderMismatchError, IndexFormatError
from indexes.kg import (
    KnowledgeGraphIndex,
    OpenIEExtractor,
    match_hipporag_docs,
    read_hipporag_docs,
)
from indexes.segment import build_segment
from rag.errors import InvalidInputError
from rag.indexing import legacy
from rag.indexing import manifest as mf
from rag.indexing.collection import CollectionIndexes, merge_policy
from rag.indexing.follow import Follower, Roles
from rag.indexing.kg_info import GeneratorJSON, build_info, kg_settings  # noqa: F401 - core's
from rag.indexing.merges import MergeThread
from rag.indexing.precomputed import PrecomputedVectors
from rag.settings import GraphSettings, IndexSettings
from rag.storage.lock import HeldLease, IndexerLease
from rag.storage.openie_cache import StoreOpenIECache
from rag.storage.store import CollectionRow, Store

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
OpenIEFactory = Callable[[], OpenIEExtractor | None]
BATCH = 256


class IndexManager:
    """Loads, updates and persists the indexes of every collection under `root`.

    With several replicas on one index dir, only the holder of a collection's `lease`
    writes its files; the others follow its manifests (rag/indexing/follow.py).
    """

    def __init__(self, store: Store, embedder: Embedder, root: Path, settings: IndexSettings,
                 graph: GraphSettings | None = None, *, openie: OpenIEFactory | None = None,
                 lease: IndexerLease | None = None, follow_interval: float = 0.5):
        self.store = store
        self.embedder = embedder
        self.root = Path(root)
        self.settings = settings
        self.graph = graph or GraphSettings()
        self.openie = openie  # the graph's extractor; None or a None result: spaCy
        self.vectors = PrecomputedVectors()  # chunk id -> vector embedded elsewhere (Ray)
        self._live: dict[str, CollectionIndexes] = {}
        self._lock = threading.Lock()
        self.policy = merge_policy(settings)
        self._merges = MergeThread(self._merge_all)
        self.roles = Roles(lease or HeldLease())
        self.follower = Follower(follow_interval, self.make_kg)

    def close(self) -> None:
        """Stop the merge thread (the merge in progress finishes first), give leases up."""
        self._merges.stop()
        self.roles.lease.close()

    def indexes_here(self, collection: CollectionRow) -> bool:
        """True when this process is the collection's indexer (the lease, asked at most
        about once a second); under SQLite always."""
        return self.roles.indexer(collection.id)[0]

    def folder(self, name: str) -> Path:
        """The collection's index folder."""
        return self.root / name

    def make_kg(self, dense: Any) -> KnowledgeGraphIndex:
        """A knowledge-graph index sharing the collection's dense index and the OpenIE cache."""
        settings = kg_settings(self.graph)
        return KnowledgeGraphIndex(self.embedder, dense=dense, cache=StoreOpenIECache(self.store),
                                   openie=self.openie() if self.openie else None, settings=settings)

    def get(self, collection: CollectionRow) -> CollectionIndexes:
        """The collection's live indexes, loaded from disk and caught up on first use.

        Raises:
            EmbedderMismatchError: when the collection is pinned to another embedder.
        """
        leader = self.indexes_here(collection)
        with self._lock:
            live = self._live.get(collection.name)
            changed = live is not None and live.collection.id == collection.id and \
                live.leader != leader
            fresh = live is None or live.collection.id != collection.id or changed
            if fresh:
                if changed:  # took the collection over (full load + replay), or lost it
                    log.warning("%s: this process %s its indexer", collection.name,
                                "is now" if leader else "is no longer")
                live = self._load(collection, leader)
                self._live[collection.name] = live
        if not leader:
            self.follower.refresh(live)  # a stat of the manifest, at most every interval
            return live
        if fresh and live.applied_seq < self.store.last_op_seq(collection):
            # First use in this process and the files are behind SQLite (a crash between
            # commit and index write, or a lost/corrupt generation): replay the ops now.
            self.sync(collection)
        return live

    def _load(self, collection: CollectionRow, leader: bool = True) -> CollectionIndexes:
        if collection.embedder != self.embedder.name or collection.dim != self.embedder.dim:
            raise EmbedderMismatchError(
                f"collection {collection.name!r} is pinned to {collection.embedder} "
                f"(dim {collection.dim}) but the service runs {self.embedder.name} "
                f"(dim {self.embedder.dim}); set RAGMEM_INDEX__EMBEDDER={collection.embedder}")
        root = self.folder(collection.name)
        live = CollectionIndexes(collection, self.embedder, self.settings, root)
        live.leader = leader
        if not leader:  # a follower writes nothing: no cleanup, no conversion, no rebuild
            self.follower.refresh(live, force=True)
            return live
        try:
            manifest = mf.read_manifest(root)
            old = legacy.legacy_generation(root) if manifest is None else None
            if manifest is not None:
                live.load(manifest, self.make_kg)
            elif old is not None:
                log.warning("%s: converting the index generation %s to segments",
                            collection.name, old.name)
                legacy.convert(live, old, self.make_kg)
                self.store.mark_applied(collection, live.applied_seq)  # once, at the upgrade
            if live.kg is not None:
                saved = live.kg.loaded_source_order
                if saved not in (None, live.kg.source_order) and self._outdated(live):
                    log.warning("%s: the knowledge graph holds triples of other OpenIE sources "
                                "than the settings take now (%s); it is rebuilt on next use",
                                collection.name, list(live.kg.source_order))
                    live.kg, live.kg_dirty = None, False
            live.next_segment = mf.next_segment_number(root, manifest)
            mf.remove_unreferenced(root, manifest)  # left by a crashed write or merge
            self._mark_window(live)
        except IndexFormatError as exc:
            log.warning("rebuilding %s from SQLite: %s", collection.name, exc)
            live = CollectionIndexes(collection, self.embedder, self.settings, root)
            live.next_segment = mf.next_segment_number(root, None)
            live.saved_seq = -1  # written by the first sync, even with no op to replay
        if legacy.has_legacy_files(root) and live.saved_seq == -1:
            with live.writer:
                self._sync_locked(live, None, force_save=True)
        if legacy.has_legacy_files(root) and live.saved_seq >= 0:
            legacy.remove_legacy(root)
        return live

    def _mark_window(self, live: CollectionIndexes) -> None:
        """Flag the documents of the ops between the manifest's `marked_seq` and its
        `applied_seq` (a crash between the index write and `mark_indexed`): the last
        sync's only, not every document of the collection."""
        if live.marked_seq >= live.applied_seq:
            return
        ids = [cid for seq, kind, chunk_ids in self.store.ops_after(live.collection, live.marked_seq)
               if kind == "add" and seq <= live.applied_seq for cid in chunk_ids]
        self.store.mark_indexed(live.collection, ids)
        live.marked_seq = live.applied_seq

    def sync(self, collection: CollectionRow, progress: Progress | None = None) -> int:
        """Apply the ops newer than the manifest on disk and persist them as a segment.

        Returns:
            The number of chunks added.
        """
        live = self.get(collection)
        if not self.indexes_here(collection):
            return 0  # the indexer replica applies the ops; `get` followed its manifest
        with live.writer:
            return self._sync_locked(live, progress)

    def _sync_locked(self, live: CollectionIndexes, progress: Progress | None,
                     *, force_save: bool = False) -> int:
        collection = live.collection
        ops = self.store.ops_after(collection, live.applied_seq)
        if not ops and not force_save and live.saved_seq == live.applied_seq:
            return 0
        deleted = {cid for _, kind, ids in ops if kind == "delete" for cid in ids}
        to_add = [cid for _, kind, ids in ops if kind == "add" for cid in ids if cid not in deleted]
        self._delete(live, sorted(deleted))
        self._add(live, to_add, progress)
        with live.lock:
            live.applied_seq = ops[-1][0] if ops else live.applied_seq
            live.unsaved.extend(to_add)
        # A failed write (a full disk) leaves the indexes live in memory and unsaved;
        # the next sync writes them (a restart replays the ops instead).
        if not self.roles.confirm(collection.id):  # lost the lease: the new indexer replays
            return 0
        saved = live.persist()
        self.store.mark_indexed(collection, saved)
        live.marked_seq = live.saved_seq
        if self.settings.background_merges:
            self._merges.request(collection.name)
        return len(to_add)

    def _delete(self, live: CollectionIndexes, chunk_ids: list[int]) -> None:
        if not chunk_ids:
            return
        with live.lock:
            live.segments.delete(chunk_ids)
            if live.kg is not None:
                before = live.kg.count()
                live.kg.delete(chunk_ids)
                live.kg_dirty = live.kg_dirty or live.kg.count() != before

    def _merge_all(self, name: object) -> None:
        """Merge one collection's segments while its policy plans merges (merge thread)."""
        with self._lock:
            live = self._live.get(str(name))
        while live is not None and not live.dropped and self.roles.confirm(live.collection.id):
            sources = live.plan(self.policy)
            if not sources or not live.merge_once(sources):
                return

    def merge(self, collection: CollectionRow) -> dict[str, Any]:
        """Merge every segment of the collection into one, dropping tombstoned rows (now)."""
        live = self.get(collection)
        self._check_indexer(collection, "merged")
        self.sync(collection)
        self._merges.wait_idle()
        started = time.perf_counter()
        merged = live.merge_once(live.plan(self.policy, force=True))
        return {"merged": merged, "seconds": round(time.perf_counter() - started, 3),
                "segments": live.segment_stats()}

    def wait_merges(self, timeout: float | None = None) -> bool:
        """Block until the background merges requested so far are done."""
        return self._merges.wait_idle(timeout)

    def _chunks(self, chunk_ids: Sequence[int]) -> list[Chunk]:
        rows = self.store.get_chunks(chunk_ids)
        return [Chunk(r.id, r.text, r.title) for r in (rows[i] for i in chunk_ids if i in rows)]

    def _add(self, live: CollectionIndexes, chunk_ids: list[int], progress: Progress | None) -> None:
        total = len(chunk_ids)
        if progress:
            progress(0, total)
        tokenize = live.segments.tokenizer
        for start in range(0, total, BATCH):
            chunks = self._chunks(chunk_ids[start:start + BATCH])
            if not chunks:
                continue
            vectors = self.vectors.encode(live.dense, chunks)  # a Ray job's, else embedded here
            # a small in-memory segment, searchable at once; `persist` writes them as one
            segment = build_segment([c.id for c in chunks], vectors,
                                    [tokenize(c.indexed_text) for c in chunks])
            facts = live.kg.extract(chunks) if live.kg is not None else None
            with live.lock:
                live.segments.segments = [*live.segments.segments, segment]
            if live.kg is not None and facts is not None:
                # The graph adds after the dense vectors, whose scores form its prior.
                with live.lock:
                    live.kg.add_results([(c.id, f) for c, f in zip(chunks, facts, strict=True)])
                    live.kg_dirty = True
            if progress:
                progress(min(start + BATCH, total), total)

    def _chunk_ids(self, collection: CollectionRow) -> list[int]:
        return self.store.chunk_ids(collection)

    def _outdated(self, live: CollectionIndexes) -> list[int]:
        """Chunks whose graph triples differ from what a rebuild would take now (under the
        graph's settings, which `build_kg` first brings up to date)."""
        if live.kg is None:
            return []
        ids = self._chunk_ids(live.collection)
        return [cid for start in range(0, len(ids), 2000)
                for cid in live.kg.outdated(self._chunks(ids[start:start + 2000]))]

    def build_kg(self, collection: CollectionRow, progress: Progress | None = None,
                 *, rebuild: bool = False) -> KnowledgeGraphIndex:
        """Build the collection's knowledge graph from SQLite.

        An existing graph takes the current settings and is kept unless `rebuild` is set
        or it is outdated: some of its passages hold triples of another source than the
        settings now pick (HippoRAG OpenIE imported after the build, `prefer_sources` or
        the generator changed). The new graph's `build_info` records the OpenIE and graph
        times.
        """
        live = self.get(collection)
        self._check_indexer(collection, "given a knowledge graph")
        with live.writer:
            kg = self.make_kg(live.dense)
            if live.kg is not None and not rebuild:
                # the live graph takes the current settings; its triples decide a rebuild
                live.kg.settings, live.kg.openie = kg.settings, kg.openie
                outdated = self._outdated(live)
                if not outdated:
                    return live.kg
                log.info("%s: %d passages have other OpenIE triples now; rebuilding the graph",
                         collection.name, len(outdated))
            self._sync_locked(live, None)
            ids = self._chunk_ids(collection)
            kg.load_models()  # before the clock: build_info times the work, not model loads
            started = time.perf_counter()
            openie_s = 0.0
            if progress:
                progress(0, len(ids))
            for start in range(0, len(ids), BATCH):
                chunks = self._chunks(ids[start:start + BATCH])
                extract_start = time.perf_counter()
                results = kg.extract(chunks)
                openie_s += time.perf_counter() - extract_start
                kg.add_results([(c.id, r) for c, r in zip(chunks, results, strict=True)])
                if progress:
                    progress(min(start + BATCH, len(ids)), len(ids))
            kg.build_info = build_info(len(ids), time.perf_counter() - started, openie_s,
                                       kg.openie_counts)
            with live.lock:
                live.kg, live.kg_dirty = kg, True
            self._sync_locked(live, None, force_save=True)
            return kg

    def import_openie(self, collection: CollectionRow, path: Path, *,
                      build: bool = True, progress: Progress | None = None) -> dict[str, Any]:
        """Put a HippoRAG OpenIE file's triples into the cache for the collection's chunks.

        Passages are matched to chunks as HippoRAG does (`title + "\\n" + text`, else
        title and text, else text). With `build`, the graph is then built, or rebuilt when
        its passages now have other triples, so the imported ones are used.

        Returns:
            `docs`, `matched_docs`, `unmatched_docs`, `matched_chunks`, `unmatched_chunks`,
            `cached` (rows written) and, with `build`, `rebuilt` and the graph's `stats`.

        Raises:
            IndexFormatError: when the file is not HippoRAG's format.
        """
        docs = read_hipporag_docs(Path(path))
        ids = self._chunk_ids(collection)
        pairs, unmatched = match_hipporag_docs(docs, self._chunks(ids))
        cache = StoreOpenIECache(self.store)
        cache.put_many({h: r for _, h, r in pairs}.items())
        matched_chunks = len({cid for cid, _, _ in pairs})
        report: dict[str, Any] = {
            "file": str(path), "docs": len(docs), "matched_docs": len(docs) - unmatched,
            "unmatched_docs": unmatched, "matched_chunks": matched_chunks,
            "unmatched_chunks": len(ids) - matched_chunks,
            "cached": len({h for _, h, _ in pairs}),
            "preferred": "import" in self.graph.prefer_sources}
        if build and pairs:
            before = self.get(collection).kg
            kg = self.build_kg(collection, progress)
            report["rebuilt"] = kg is not before
            report["stats"] = kg.stats()
        return report

    def _check_indexer(self, collection: CollectionRow, what: str) -> None:
        if not self.indexes_here(collection):
            raise InvalidInputError(f"collection {collection.name!r} is indexed by another "
                                    f"replica; it can be {what} there (this one follows it)")

    def apply_delete_now(self, collection: CollectionRow, chunk_ids: list[int]) -> None:
        """Remove chunks from the live indexes at once (the next sync persists it)."""
        self._delete(self.get(collection), list(chunk_ids))

    def drop(self, name: str) -> None:
        """Forget a deleted collection's indexes and remove its files."""
        with self._lock:
            live = self._live.pop(name, None)
        if live is not None:
            with live.writer:  # a merge in flight sees it and writes nothing more
                live.dropped = True
            self.follower.forget(live)
            if not self.indexes_here(live.collection):
                return  # the indexer removes the files
            self.roles.release(live.collection.id)
        shutil.rmtree(self.folder(name), ignore_errors=True)

