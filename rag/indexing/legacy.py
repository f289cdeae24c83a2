"""Upgrading the previous on-disk format: whole-index generations (`CURRENT` + `gen-<n>/`).

A generation held one `dense.faiss` (flat, every vector), the BM25 term ids and
vocabulary, maybe a KG, and a manifest with every file's SHA-256 and the applied op
seq. It is converted, not re-embedded: its vectors and terms become one segment, its KG
is loaded as it is, and the caller persists the result in the new format, then removes
the generation. A generation that fails its checksums is ignored (rebuilt from SQLite).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indexes.bm25 import BM25Index
from indexes.dense import DenseIndex
from indexes.errors import IndexFormatError
from indexes.segment import build_segment
from indexes.segment_files import sha256_file
from rag.indexing import manifest as mf

LEGACY_NAMES = ("CURRENT", "CURRENT.tmp")


def legacy_generation(root: Path) -> Path | None:
    """The live generation folder of the old format, or None."""
    try:
        name = (root / "CURRENT").read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    path = root / name
    return path if name.startswith("gen-") and path.is_dir() else None


def has_legacy_files(root: Path) -> bool:
    """Whether the folder holds anything of the old format."""
    return root.is_dir() and any(p.name in LEGACY_NAMES or p.name.startswith(("gen-", ".tmp-gen-"))
                                 for p in root.iterdir())


def remove_legacy(root: Path) -> None:
    """Delete the old format's files (once the new manifest is written)."""
    if root.is_dir():
        mf.remove(root, {p.name for p in root.iterdir()
                         if p.name in LEGACY_NAMES or p.name.startswith(("gen-", ".tmp-gen-"))})


def read_generation_manifest(folder: Path) -> dict[str, Any]:
    """An old generation's manifest, every file's checksum verified.

    Raises:
        IndexFormatError: when it is missing, of another version, or a file differs.
    """
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"{folder}: unreadable manifest ({exc})") from exc
    if manifest.get("manifest_version") != 1:
        raise IndexFormatError(f"{folder}: unknown manifest version")
    for name, checksum in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file() or sha256_file(path) != checksum:
            raise IndexFormatError(f"{path}: missing or corrupt (checksum mismatch)")
    return manifest


def convert(live: Any, folder: Path, make_kg: Any) -> None:
    """Load an old generation into `live` (a fresh `CollectionIndexes`) as one unsaved
    segment and a KG to write; `live.applied_seq` is the generation's.

    Raises:
        IndexFormatError: when the generation is corrupt, another collection's, or its
            dense and BM25 parts disagree.
    """
    manifest = read_generation_manifest(folder)
    if manifest.get("collection_id") != live.collection.id:
        raise IndexFormatError(f"{folder}: belongs to another collection")
    dense = DenseIndex(live.embedder)
    dense.load(folder)
    bm25 = BM25Index()
    bm25.load(folder)
    ids, vectors = dense.export()
    terms = bm25.export()
    if set(ids.tolist()) != set(terms):
        raise IndexFormatError(f"{folder}: dense and bm25 hold other chunks")
    if len(ids):
        segment = build_segment(ids, vectors, [terms[int(i)] for i in ids], live.ann)
        live.segments.segments = [segment]
    if (folder / "kg.json").exists():
        live.kg = make_kg(live.dense)
        live.kg.load(folder)
        live.kg_dirty = True
    live.applied_seq = int(manifest["applied_seq"])
    live.saved_seq = -1  # not in the new format yet: the next sync persists it
