"""The live indexes of one collection: segments in memory and on disk, and the KG.

A sync appends small in-memory segments (one per embedded batch, searchable at once),
then `persist` writes them as ONE new segment file, the tombstones of the segments
that gained deletes, the KG if it changed, and a new manifest. A merge (`merge_once`)
builds one segment from some persisted ones outside every lock, writes it, then swaps
it in under the writer lock (the manifest) and the search lock (the pointer swap).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import Index
from indexes.embedder import Embedder
from indexes.errors import IndexFormatError
from indexes.kg import KnowledgeGraphIndex
from indexes.merge_policy import MergePolicy, plan_merge
from indexes.segment import AnnParams, Segment, merge_segments
from indexes.segment_files import check_sizes, open_segment, write_segment
from indexes.segmented import SegmentedBM25, SegmentedDense, SegmentSet
from rag.indexing import manifest as mf
from rag.settings import IndexSettings
from rag.storage.store import CollectionRow

log = logging.getLogger(__name__)


def ann_params(settings: IndexSettings) -> AnnParams:
    """The HNSW knobs of the settings."""
    return AnnParams(threshold=settings.ann_threshold, m=settings.hnsw_m,
                     ef_construction=settings.hnsw_ef_construction,
                     ef_search=settings.hnsw_ef_search)


def merge_policy(settings: IndexSettings) -> MergePolicy:
    """The tiered merge knobs of the settings."""
    return MergePolicy(factor=settings.merge_factor, floor_rows=settings.merge_floor_rows,
                       max_deleted=settings.merge_max_deleted)


class CollectionIndexes:
    """The live indexes of one collection and the op sequence number they reflect.

    Searches and in-memory index changes hold `lock` briefly; `writer` serializes whole
    syncs and manifest writes (a merge takes it only to swap its result in).
    """

    def __init__(self, collection: CollectionRow, embedder: Embedder, settings: IndexSettings,
                 root: Path):
        self.collection = collection
        self.root = root
        self.ann = ann_params(settings)
        self.segments = SegmentSet(embedder.dim, ann=self.ann, k1=settings.bm25_k1,
                                   b=settings.bm25_b)
        self.dense = SegmentedDense(self.segments, embedder)
        self.bm25 = SegmentedBM25(self.segments)
        self.kg: KnowledgeGraphIndex | None = None
        self.kg_dirty = False  # changed since written (collections without a KG never are)
        self.kg_record: dict[str, Any] | None = None
        self.embedder = embedder
        self.applied_seq = 0
        self.saved_seq = 0  # the op seq of the manifest on disk (behind after a failed write)
        self.marked_seq = 0  # documents of ops up to here are flagged indexed in SQLite
        self.version = 0  # of the manifest on disk
        self.next_segment = 1
        self.unsaved: list[int] = []  # chunk ids added since that manifest
        self.dropped = False
        self.leader = True  # loaded as the collection's indexer (else a follower: no writes)
        self.lock = threading.RLock()
        self.writer = threading.Lock()

    @property
    def indexes(self) -> dict[str, Index]:
        """Every index of the collection by name (`hipporag` once its graph is built)."""
        found: dict[str, Any] = {"dense": self.dense, "bm25": self.bm25}
        if self.kg is not None:
            found["hipporag"] = self.kg
        return found

    def stats(self) -> dict[str, Any]:
        """Per-index statistics and the applied op seq."""
        return {"applied_seq": self.applied_seq,
                **{name: index.stats() for name, index in self.indexes.items()}}

    def segment_stats(self) -> list[dict[str, Any]]:
        """Each segment: name (None while unsaved), rows, tombstones, HNSW, bytes on disk."""
        with self.lock:
            segments = list(self.segments.segments)
        return [{"name": s.name, "rows": len(s), "deleted": s.deleted, "hnsw": s.hnsw is not None,
                 "bytes": sum(size for size, _ in s.files.values())} for s in segments]

    # -- open -----------------------------------------------------------------
    def load(self, manifest: dict[str, Any], make_kg: Any) -> None:
        """Open what `manifest` names: sizes checked, arrays mapped, tombstones applied.

        Raises:
            IndexFormatError: when a file is missing or truncated, or the manifest is
                another collection's.
            EmbedderMismatchError: when it was written with another embedder.
        """
        mf.check_owner(self.root, manifest, self.collection.id, self.embedder)
        try:
            segments = []
            for entry in manifest["segments"]:
                segment = open_segment(self.root, entry["files"], self.embedder.dim)
                segment.name, segment.files = entry["name"], entry["files"]
                if entry.get("deletes"):
                    segment.delete(mf.read_tombstones(self.root, entry["deletes"]))
                    segment.deletes_record = entry["deletes"]
                    segment.saved_deleted = segment.deleted
                segments.append(segment)
            if manifest.get("kg"):
                record = manifest["kg"]
                check_sizes(self.root / record["folder"], record["files"])
                self.kg = make_kg(self.dense)
                self.kg.load(self.root / record["folder"])
                self.kg_record = record
            self.segments.segments = segments
            self.applied_seq = self.saved_seq = int(manifest["applied_seq"])
            self.marked_seq = int(manifest.get("marked_seq", 0))
            self.version = int(manifest["version"])
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexFormatError(f"{self.root / mf.MANIFEST}: malformed ({exc!r})") from exc
        self.next_segment = mf.next_segment_number(self.root, manifest)

    # -- persist --------------------------------------------------------------
    def _body(self, entries: list[dict[str, Any]], kg: dict[str, Any] | None,
              applied_seq: int) -> dict[str, Any]:
        return {"collection_id": self.collection.id, "embedder": self.embedder.name,
                "dim": self.embedder.dim, "applied_seq": applied_seq,
                "marked_seq": self.marked_seq, "version": self.version + 1,
                "next_segment": self.next_segment, "segments": entries, "kg": kg}

    def _allocate(self) -> str:
        with self.lock:
            name = f"seg-{self.next_segment:06d}"
            self.next_segment += 1
        return name

    def _entry(self, segment: Segment, version: int, retired: set[str]) -> dict[str, Any]:
        """The manifest entry of a persisted segment, writing its tombstones if they grew."""
        with self.lock:
            deleted, ids = segment.deleted, segment.deleted_ids()
        if deleted != segment.saved_deleted:
            record = mf.write_tombstones(self.root, segment.name, version, ids)
            if segment.deletes_record:
                retired.add(segment.deletes_record["file"])
            segment.deletes_record, segment.saved_deleted = record, deleted
        return {"name": segment.name, "rows": len(segment), "files": segment.files,
                "deletes": segment.deletes_record}

    def persist(self) -> list[int]:
        """Write what changed since the manifest on disk and swap in a new manifest (the
        caller holds `writer`). A failure leaves the in-memory indexes live and unsaved.

        Returns:
            The chunk ids added since the previous manifest, now saved.
        """
        if self.dropped:  # set under `writer` by drop, whose folder removal may be under
            return []      # way: writing now fails (No such file) or revives the folder
        with self.lock:
            segments = list(self.segments.segments)
            applied_seq = self.applied_seq
        pending = [s for s in segments if s.name is None]
        version = self.version + 1
        written: set[str] = set()
        retired: set[str] = set()
        try:
            new = None
            if pending:
                first = pending[0]
                reuse = len(pending) == 1 and not first.deleted and (
                    first.hnsw is not None or len(first) < self.ann.threshold)
                new = first if reuse else merge_segments(pending, self.ann, self.embedder.dim)
                if len(new):
                    name = self._allocate()
                    written.add(f"{name}.seg")
                    files = write_segment(new, self.root / f"{name}.seg")
                else:
                    new = None
            entries = [self._entry(s, version, retired) for s in segments if s.name is not None]
            kg = self.kg_record
            if self.kg is not None and self.kg_dirty:
                with self.lock:  # the graph is saved as searches leave it
                    kg = mf.write_kg(self.root, version, self.kg.save)
                    self.kg_dirty = False
                written.add(kg["folder"])
            elif self.kg is None:
                kg = None
            if new is not None:
                entries.append({"name": name, "rows": len(new), "files": files, "deletes": None})
            mf.write_manifest(self.root, self._body(entries, kg, applied_seq))
        except BaseException:
            mf.remove(self.root, written)
            if self.kg is not None and kg is not self.kg_record:
                self.kg_dirty = True
            raise
        if self.kg_record and (kg is None or kg["folder"] != self.kg_record["folder"]):
            retired.add(self.kg_record["folder"])
        with self.lock:
            if new is not None:
                new.name, new.files = name, files
                dead = [p.deleted_ids() for p in pending]
                new.delete(np.concatenate(dead) if dead else np.zeros(0, np.int64))
            rest = [s for s in self.segments.segments if s not in pending]
            self.segments.segments = rest + ([new] if new is not None else [])
            self.kg_record = kg
            self.version, self.saved_seq = version, applied_seq
            saved, self.unsaved = self.unsaved, []
        mf.remove(self.root, retired)
        return saved

    # -- merge ----------------------------------------------------------------
    def plan(self, policy: MergePolicy, *, force: bool = False) -> list[Segment]:
        """The persisted segments to merge next ([] when none)."""
        with self.lock:
            saved = [s for s in self.segments.segments if s.name is not None]
            sizes = [(len(s), s.deleted) for s in saved]
        if force:
            return saved if len(saved) > 1 or any(d for _, d in sizes) else []
        return [saved[i] for i in plan_merge(sizes, policy)]

    def merge_once(self, sources: list[Segment]) -> bool:
        """Merge `sources` into one new segment and swap it in; False when dropped meanwhile.

        Searches go on over the sources until the swap; deletes that arrive meanwhile
        are carried over to the new segment at the swap.
        """
        if self.dropped or not sources:
            return False
        merged = merge_segments(sources, self.ann, self.embedder.dim)
        if self.dropped:  # dropped while merging: writing would recreate the folder
            return False
        name = self._allocate()
        files = write_segment(merged, self.root / f"{name}.seg") if len(merged) else {}
        with self.writer:
            if self.dropped or any(s not in self.segments.segments for s in sources):
                mf.remove(self.root, set(files))  # the .seg and any .hnsw
                return False
            version = self.version + 1
            retired = {f for s in sources for f in s.files} | {
                s.deletes_record["file"] for s in sources if s.deletes_record}
            with self.lock:
                dead = np.concatenate([s.deleted_ids() for s in sources])
            merged.delete(dead)
            merged.name, merged.files = name, files
            keep = [s for s in self.segments.segments if s.name is not None and s not in sources]
            try:
                entries = [{"name": s.name, "rows": len(s), "files": s.files,
                            "deletes": s.deletes_record} for s in keep]
                if len(merged):
                    entries.append(self._entry(merged, version, retired))
                mf.write_manifest(self.root, self._body(entries, self.kg_record, self.saved_seq))
            except BaseException:
                mf.remove(self.root, set(files) | ({merged.deletes_record["file"]}
                                                   if merged.deletes_record else set()))
                raise
            with self.lock:
                self.segments.segments = [*(s for s in self.segments.segments
                                            if s not in sources),
                                          *([merged] if len(merged) else [])]
                self.version = version
        mf.remove(self.root, retired)
        return True
