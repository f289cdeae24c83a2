"""Index generations on disk: write to a temp folder, fsync, rename, fsync the parent.

    collections/<name>/CURRENT       names the live generation (replaced atomically)
    collections/<name>/gen-<n>/      index files + manifest.json (applied op seq, checksums)

A crash at any point leaves either the old or the new generation live, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexes.errors import IndexFormatError

MANIFEST_VERSION = 1


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_generation(root: Path) -> Path | None:
    """The live generation folder of a collection, or None when there is none."""
    try:
        name = (root / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    path = root / name
    return path if name.startswith("gen-") and path.is_dir() else None


def write_generation(root: Path, manifest: dict[str, Any], save: Callable[[Path], None]) -> Path:
    """Write a new generation with `save(folder)` and make it live.

    Args:
        root: the collection's folder.
        manifest: what to record (applied op seq, embedder...); checksums are added.
        save: writes the index files into the folder it is given.

    Returns:
        The new generation's folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    live = current_generation(root)
    number = int(live.name.split("-")[1]) + 1 if live else 1
    final = root / f"gen-{number:06d}"
    temp = root / f".tmp-gen-{number:06d}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    save(temp)
    files = {p.name: _sha256(p) for p in sorted(temp.iterdir()) if p.is_file()}
    body = {"manifest_version": MANIFEST_VERSION, **manifest, "files": files}
    (temp / "manifest.json").write_text(json.dumps(body, indent=1))
    for path in temp.iterdir():
        _fsync_path(path)
    _fsync_path(temp)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(temp, final)
    _fsync_path(root)
    pointer = root / "CURRENT.tmp"
    pointer.write_text(final.name)
    _fsync_path(pointer)
    os.replace(pointer, root / "CURRENT")
    _fsync_path(root)
    _remove_old(root, keep=final)
    return final


def _remove_old(root: Path, keep: Path) -> None:
    for path in root.iterdir():
        if path.is_dir() and path != keep and (path.name.startswith(("gen-", ".tmp-gen-"))):
            shutil.rmtree(path, ignore_errors=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read and verify a generation's manifest (version and every file's checksum).

    Raises:
        IndexFormatError: when the manifest is missing, unknown, or a file differs.
    """
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexFormatError(f"{folder}: unreadable manifest ({exc})") from exc
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        raise IndexFormatError(f"{folder}: unknown manifest version "
                               f"{manifest.get('manifest_version')!r}")
    for name, checksum in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file() or _sha256(path) != checksum:
            raise IndexFormatError(f"{path}: missing or corrupt (checksum mismatch)")
    return manifest
