"""Follower mode: a replica that does not index a collection serves the indexer's files.

Several `ragmem serve` processes share one index dir; one of them (the holder of the
collection's `IndexerLease`, rag/storage/lock.py) writes segments and manifests, the
others never write there. A follower notices a new manifest by its stat (a new inode:
the indexer renames a fresh file over the old one), at most every `interval` seconds,
and applies it without a reload: segments it has open stay open (their new tombstone
files applied), new ones are memory-mapped, the ones the manifest no longer names are
dropped, the knowledge graph is reloaded only when its folder changed.

The indexer removes retired files right after a manifest swap, so a follower can read
a manifest whose files are already gone; it then rereads the manifest and tries again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from indexes.errors import IndexFormatError
from indexes.segment import Segment
from indexes.segment_files import check_sizes, open_segment
from rag.indexing import manifest as mf
from rag.indexing.collection import CollectionIndexes

log = logging.getLogger(__name__)

ATTEMPTS = 5  # manifests read while the indexer retires files under us


def manifest_stamp(root: Any) -> tuple[int, int, int] | None:
    """(inode, mtime ns, size) of the manifest, None when there is none: cheap to poll."""
    try:
        st = os.stat(root / mf.MANIFEST)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def plan_follow(current: dict[str | None, Any], entries: list[dict[str, Any]],
                ) -> tuple[list[str], list[str], list[str]]:
    """What a manifest's segment entries mean for the segments open now (pure).

    Args:
        current: name -> the deletes record of each open persisted segment.
        entries: the manifest's segment entries.

    Returns:
        (names to open, names kept whose tombstone file changed, names to drop).
    """
    named = {e["name"]: e.get("deletes") for e in entries}
    to_open = [n for n in named if n not in current]
    retomb = [n for n, rec in named.items() if n in current and rec and rec != current[n]]
    drop = [n for n in current if n is not None and n not in named]
    return to_open, retomb, drop


def apply_manifest(live: CollectionIndexes, manifest: dict[str, Any],
                   make_kg: Callable[[Any], Any]) -> None:
    """Make `live` serve what `manifest` names, reusing the segments open already.

    Files are opened and tombstones read outside the search lock; the swap is under it.

    Raises:
        IndexFormatError: when a named file is gone or truncated (retired meanwhile),
            or the manifest is another collection's.
        EmbedderMismatchError: when it was written with another embedder.
    """
    root = live.root
    mf.check_owner(root, manifest, live.collection.id, live.embedder)
    try:
        entries = list(manifest["segments"])
        with live.lock:
            open_now = {s.name: s for s in live.segments.segments if s.name is not None}
        to_open, retomb, _ = plan_follow({n: s.deletes_record for n, s in open_now.items()},
                                         entries)
        by_name = {e["name"]: e for e in entries}
        fresh: dict[str, Segment] = {}
        for name in to_open:
            entry = by_name[name]
            segment = open_segment(root, entry["files"], live.embedder.dim)
            segment.name, segment.files = name, entry["files"]
            if entry.get("deletes"):
                segment.delete(mf.read_tombstones(root, entry["deletes"]))
                segment.deletes_record = entry["deletes"]
                segment.saved_deleted = segment.deleted
            fresh[name] = segment
        tombs = {name: mf.read_tombstones(root, by_name[name]["deletes"]) for name in retomb}
        kg, kg_record = live.kg, live.kg_record
        record = manifest.get("kg")
        if not record:
            kg, kg_record = None, None
        elif not live.kg_record or record["folder"] != live.kg_record["folder"]:
            check_sizes(root / record["folder"], record["files"])
            kg = make_kg(live.dense)
            kg.load(root / record["folder"])
            kg_record = record
        with live.lock:
            for name, ids in tombs.items():
                segment = open_now[name]
                segment.delete(ids)  # tombstones only grow while a segment lives
                segment.deletes_record = by_name[name]["deletes"]
                segment.saved_deleted = segment.deleted
            live.segments.segments = [fresh.get(e["name"]) or open_now[e["name"]]
                                      for e in entries]
            live.kg, live.kg_record, live.kg_dirty = kg, kg_record, False
            live.applied_seq = live.saved_seq = int(manifest["applied_seq"])
            live.marked_seq = int(manifest.get("marked_seq", 0))
            live.version = int(manifest["version"])
            live.unsaved = []
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexFormatError(f"{root / mf.MANIFEST}: malformed ({exc!r})") from exc
    except FileNotFoundError as exc:
        raise IndexFormatError(f"{root}: {exc}") from exc


class Follower:
    """Keeps a follower's `CollectionIndexes` on the indexer's latest manifest.

    Args:
        interval: seconds between two looks at the manifest's stat (a query in between
            serves what is open).
        make_kg: builds an empty knowledge graph over the collection's dense index.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, interval: float, make_kg: Callable[[Any], Any],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.make_kg = make_kg
        self.clock = clock
        self._seen: dict[int, tuple[float, Any]] = {}  # id(live) -> (checked at, stamp)

    def refresh(self, live: CollectionIndexes, *, force: bool = False) -> bool:
        """Apply a new manifest if there is one; True when `live` changed."""
        now = self.clock()
        checked, stamp = self._seen.get(id(live), (float("-inf"), None))
        if not force and now - checked < self.interval:
            return False
        current = manifest_stamp(live.root)
        self._seen[id(live)] = (now, stamp)
        if current is None or (current == stamp and not force):
            return False
        for _ in range(ATTEMPTS):
            current = manifest_stamp(live.root)
            try:
                manifest = mf.read_manifest(live.root)
                if manifest is None:
                    return False
                if manifest.get("collection_id") != live.collection.id:
                    # a deleted namesake's files, which its indexer replaces
                    self._seen[id(live)] = (now, current)
                    return False
                apply_manifest(live, manifest, self.make_kg)
            except IndexFormatError as exc:  # files retired under us: read the newer manifest
                log.debug("%s: manifest moved on while following (%s)", live.root, exc)
                continue
            self._seen[id(live)] = (now, current)
            return True
        log.warning("%s: could not follow the manifest after %d tries; serving version %d",
                    live.root, ATTEMPTS, live.version)
        return False

    def forget(self, live: CollectionIndexes) -> None:
        """Drop what is known of a collection no longer followed."""
        self._seen.pop(id(live), None)


class Roles:
    """Which collections this process indexes: the lease is asked at most every
    `interval` seconds per collection (a holder's ask also checks its session lives).

    Args:
        lease: the election (rag/storage/lock.py); `HeldLease` under SQLite.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, lease: Any, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lease = lease
        self.interval = interval
        self.clock = clock
        self._known: dict[int, tuple[bool, float]] = {}

    def indexer(self, collection_id: int) -> tuple[bool, bool]:
        """(this process indexes the collection now, that changed since the last answer)."""
        now = self.clock()
        known = self._known.get(collection_id)
        if known is not None and now - known[1] < self.interval:
            return known[0], False
        got = bool(self.lease.try_acquire(collection_id))
        self._known[collection_id] = (got, now)
        return got, known is not None and known[0] != got

    def confirm(self, collection_id: int) -> bool:
        """Ask the lease now (before a manifest write): False once it is lost."""
        held = bool(self.lease.held(collection_id))
        self._known[collection_id] = (held, self.clock())
        return held

    def release(self, collection_id: int) -> None:
        """Give the collection up (dropped, or the process stops)."""
        self._known.pop(collection_id, None)
        self.lease.release(collection_id)
