"""A collection's index files: immutable segment folders named by one manifest.

    collections/<name>/manifest.json       the live state, replaced atomically
    collections/<name>/seg-<n>.seg         one immutable segment (indexes/segment_files.py)
    collections/<name>/seg-<n>.hnsw        its HNSW graph, for large segments
    collections/<name>/del-<n>-<v>.npy     tombstones of seg-<n> as of manifest version v
    collections/<name>/kg-<v>/             the knowledge graph's own files, when it changed

The manifest lists the live segments with their files' sizes and checksums (computed
once, at write), each segment's tombstone file, the KG folder, the applied op seq and
the seq up to which documents are known to be flagged indexed (`marked_seq`). It is
written to a temp file, fsynced, renamed over the old one and the folder fsynced, so a
crash leaves the old or the new state live, never a mix. Files the new manifest no
longer names are removed after the swap; files no manifest names (a crashed write or
merge) are removed at open.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from indexes.errors import EmbedderMismatchError, IndexFormatError
from indexes.segment_files import (
    check_sizes,
    fsync_path,
    sha256_file,
    verify_files,
    write_array,
)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2
_OURS = re.compile(r"^(seg-\d+(\.seg|\.hnsw)?|del-\d+-\d+\.npy|kg-\d+|\.tmp-.*|manifest\.json\.tmp)$")


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The collection's manifest, or None when there is none.

    Raises:
        IndexFormatError: when it is unreadable or of an unknown version.
    """
    path = root / MANIFEST
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(body, dict) or body.get("manifest_version") != MANIFEST_VERSION:
        raise IndexFormatError(f"{path}: unknown manifest version "
                               f"{body.get('manifest_version') if isinstance(body, dict) else body!r}")
    return body


def write_manifest(root: Path, body: dict[str, Any]) -> None:
    """Make `body` the live manifest: temp file, fsync, rename, fsync the folder."""
    root.mkdir(parents=True, exist_ok=True)
    temp = root / f"{MANIFEST}.tmp"
    with open(temp, "w") as handle:
        handle.write(json.dumps({"manifest_version": MANIFEST_VERSION, **body}, indent=1))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, root / MANIFEST)
    fsync_path(root)


def check_owner(root: Path, manifest: dict[str, Any], collection_id: int, embedder: Any) -> None:
    """Refuse a manifest written for another collection or with another embedder.

    Raises:
        IndexFormatError: another collection's. EmbedderMismatchError: another embedder's.
    """
    if manifest.get("collection_id") != collection_id:
        raise IndexFormatError(f"{root}: belongs to another collection")
    if manifest.get("embedder") != embedder.name or manifest.get("dim") != embedder.dim:
        raise EmbedderMismatchError(f"{root}: written with {manifest.get('embedder')} "
                                    f"(dim {manifest.get('dim')})")


def segment_number(name: str) -> int:
    """The n of `seg-<n>`."""
    return int(name.split("-")[1])


def next_segment_number(root: Path, manifest: dict[str, Any] | None) -> int:
    """A segment number no file on disk or in the manifest uses yet."""
    used = [segment_number(p.stem) for p in root.glob("seg-*.seg") if p.stem[4:].isdigit()]
    return max([int((manifest or {}).get("next_segment", 1)), *(n + 1 for n in used)])


def write_tombstones(root: Path, segment: str, version: int, ids: np.ndarray) -> dict[str, Any]:
    """Write a segment's tombstoned chunk ids; returns the manifest's record of the file."""
    name = f"del-{segment_number(segment):06d}-{version:06d}.npy"
    size, checksum = write_array(root / name, np.asarray(ids, dtype=np.int64))
    return {"file": name, "count": int(len(ids)), "size": size, "sha256": checksum}


def read_tombstones(root: Path, record: dict[str, Any]) -> np.ndarray:
    """The chunk ids a tombstone record names (its size checked, not its checksum).

    Raises:
        IndexFormatError: when the file is missing, truncated or holds another count.
    """
    check_sizes(root, {record["file"]: [record["size"], record["sha256"]]})
    try:
        ids = np.load(root / record["file"], allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexFormatError(f"{root / record['file']}: unreadable ({exc})") from exc
    if len(ids) != record["count"]:
        raise IndexFormatError(f"{root / record['file']}: {len(ids)} ids, not {record['count']}")
    return ids


def write_kg(root: Path, version: int, save: Any) -> dict[str, Any]:
    """Write the KG with `save(folder)` into `kg-<version>/` (fsynced, renamed into place)."""
    final = root / f"kg-{version:06d}"
    temp = root / f".tmp-{final.name}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    try:
        save(temp)
        files = {}
        for path in sorted(temp.iterdir()):
            fsync_path(path)
            files[path.name] = [path.stat().st_size, sha256_file(path)]
        fsync_path(temp)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(temp, final)
        fsync_path(root)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return {"folder": final.name, "files": files}


def referenced(manifest: dict[str, Any] | None) -> set[str]:
    """Names (in the collection folder) a manifest keeps alive."""
    if manifest is None:
        return set()
    names = {MANIFEST}
    for entry in manifest.get("segments", []):
        names.update(entry["files"])
        if entry.get("deletes"):
            names.add(entry["deletes"]["file"])
    if manifest.get("kg"):
        names.add(manifest["kg"]["folder"])
    return names


def remove(root: Path, names: set[str]) -> None:
    """Delete files or folders of the collection (after the manifest no longer names them;
    readers keep their memory maps, which Linux keeps valid)."""
    for name in names:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def remove_unreferenced(root: Path, manifest: dict[str, Any] | None) -> None:
    """At open: delete our files that `manifest` does not name (crashed writes, merges).

    Other files in the folder (crag.json...) are not ours and stay.
    """
    if not root.is_dir():
        return
    keep = referenced(manifest)
    remove(root, {p.name for p in root.iterdir() if _OURS.match(p.name) and p.name not in keep})


def verify(root: Path) -> list[str]:
    """Problems found by checksumming every file the manifest names (empty: all good)."""
    try:
        manifest = read_manifest(root)
    except IndexFormatError as exc:
        return [str(exc)]
    if manifest is None:
        return [f"{root / MANIFEST}: missing"]
    problems = []
    for entry in manifest.get("segments", []):
        problems += verify_files(root, entry["files"])
        record = entry.get("deletes")
        if record:
            problems += verify_files(root, {record["file"]: [record["size"], record["sha256"]]})
    if manifest.get("kg"):
        problems += verify_files(root / manifest["kg"]["folder"], manifest["kg"]["files"])
    return problems
