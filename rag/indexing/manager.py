"""Keeps each collection's indexes in step with the SQLite ops log.

An index generation records the last op it reflects (`applied_seq`). Bringing a
collection up to date means replaying the newer ops: deletes first (chunk ids are never
reused, so order between adds and deletes does not matter), then adds in batches,
embedding (and OpenIE, for collections with a knowledge graph) outside the read lock.
A missing or corrupt generation is rebuilt from SQLite.

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

from indexes.base import Chunk, Index
from indexes.bm25 import BM25Index
from indexes.dense import DenseIndex
from indexes.embedder import Embedder
from indexes.errors import EmbedderMismatchError, IndexFormatError
from indexes.kg import (
    KGSettings,
    KnowledgeGraphIndex,
    OpenIEExtractor,
    match_hipporag_docs,
    read_hipporag_docs,
)
from rag.errors import InvalidInputError
from rag.indexing.generations import current_generation, read_manifest, write_generation
from rag.settings import GraphSettings, IndexSettings
from rag.storage.openie_cache import StoreOpenIECache
from rag.storage.store import CollectionRow, Store

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
OpenIEFactory = Callable[[], OpenIEExtractor | None]
BATCH = 256


class GeneratorJSON:
    """`generate_json(prompt, schema)` of an LLM started on first call (`JSONGenerator`).

    Lets the knowledge graph take the service's LLM for OpenIE without starting it
    before a graph is built.

    Args:
        start: returns the loaded LLM (anything with `generate_json`), or None when the
            configured generator has no JSON output.
    """

    def __init__(self, start: Callable[[], Any]) -> None:
        self._start = start

    def generate_json(self, prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        """The LLM's JSON answer to `prompt`.

        Raises:
            InvalidInputError: when the configured generator has no JSON output.
        """
        llm = self._start()
        if llm is None:
            raise InvalidInputError("the configured generator has no JSON output for OpenIE")
        return llm.generate_json(prompt, schema)


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
        self.saved_seq = 0  # the op seq of the generation on disk (behind after a failed write)
        self.unsaved: list[int] = []  # chunk ids added since that generation
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
                 graph: GraphSettings | None = None, *, openie: OpenIEFactory | None = None):
        self.store = store
        self.embedder = embedder
        self.root = Path(root)
        self.settings = settings
        self.graph = graph or GraphSettings()
        self.openie = openie  # the graph's extractor; None or a None result: spaCy
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
                              title_seed_weight=g.title_seed_weight,
                              prefer_sources=tuple(g.prefer_sources))
        return KnowledgeGraphIndex(self.embedder, dense=dense, cache=StoreOpenIECache(self.store),
                                   openie=self.openie() if self.openie else None, settings=settings)

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
                saved = live.kg.loaded_source_order
                if saved not in (None, live.kg.source_order) and self._outdated(live):
                    log.warning("%s: the knowledge graph holds triples of other OpenIE sources "
                                "than the settings take now (%s); it is rebuilt on next use",
                                collection.name, list(live.kg.source_order))
                    live.kg = None
            live.applied_seq = live.saved_seq = int(manifest["applied_seq"])
            # documents a crash left unflagged between the index write and mark_indexed
            self.store.mark_applied(collection, live.applied_seq)
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
        if not ops and not force_save and live.saved_seq == live.applied_seq:
            return 0
        deleted = {cid for _, kind, ids in ops if kind == "delete" for cid in ids}
        to_add = [cid for _, kind, ids in ops if kind == "add" for cid in ids if cid not in deleted]
        with live.lock:
            for index in live.indexes.values():
                index.delete(sorted(deleted))
        self._add(live, to_add, progress)
        with live.lock:
            live.applied_seq = ops[-1][0] if ops else live.applied_seq
            live.unsaved.extend(to_add)
            manifest = {"collection_id": collection.id, "embedder": self.embedder.name,
                        "dim": self.embedder.dim, "applied_seq": live.applied_seq}
            # A failed write (a full disk) leaves the indexes live in memory and unsaved;
            # the next sync writes them (a restart replays the ops instead).
            write_generation(self.folder(collection.name), manifest, live.save)
            live.saved_seq, saved, live.unsaved = live.applied_seq, live.unsaved, []
        self.store.mark_indexed(collection, saved)
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

    def _chunk_ids(self, collection: CollectionRow) -> list[int]:
        return [r["id"] for r in self.store.query(
            "SELECT id FROM chunks WHERE collection_id=? ORDER BY id", (collection.id,))]

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
                live.kg = kg
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


def build_info(passages: int, seconds: float, openie_s: float,
               counts: Any) -> dict[str, Any]:
    """Times of a graph build: OpenIE (fresh extractions only) and the graph itself."""
    extracted = int(counts.get("extracted", 0))
    graph_s = max(seconds - openie_s, 1e-9)
    info: dict[str, Any] = {
        "passages": passages, "build_s": round(seconds, 2), "openie_s": round(openie_s, 2),
        "openie_extracted": extracted, "openie_cached": int(counts.get("cached", 0)),
        "graph_s": round(graph_s, 2), "graph_passages_per_s": round(passages / graph_s, 2)}
    if extracted:
        info["openie_passages_per_s"] = round(extracted / max(openie_s, 1e-9), 2)
    return info
