"""A segment on disk: one folder of .npy arrays (+ HNSW graph, vocabulary), written once.

    ids.npy  vectors.npy  [hnsw.faiss]  bm25_indptr.npy  bm25_rows.npy  bm25_tf.npy
    bm25_lengths.npy  bm25_vocab.json

`write_segment` writes into a temp folder, fsyncs every file and the folder, renames it
into place and returns each file's size and SHA-256 (computed while writing, once).
`open_segment` checks the sizes only and memory-maps the arrays; `verify_files` is the
full checksum walk (`ragmem index verify`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from indexes.dense import _faiss
from indexes.errors import IndexFormatError
from indexes.segment import Segment

ARRAYS = ("ids", "vectors", "bm25_indptr", "bm25_rows", "bm25_tf", "bm25_lengths")
FileInfo = dict[str, list[Any]]  # file name -> [size, sha256]


def fsync_path(path: Path) -> None:
    """fsync a file or a directory."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_file(path: Path, data: bytes) -> list[Any]:
    """Write and fsync `data`; returns [size, sha256]."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return [len(data), hashlib.sha256(data).hexdigest()]


class _HashingWriter:
    """A file wrapper hashing what passes through (np.save writes in chunks)."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.digest.update(view)
        self.size += len(view)
        return self.handle.write(view)


def write_array(path: Path, array: np.ndarray) -> list[Any]:
    """Write one .npy (no pickle), fsynced; returns [size, sha256]."""
    with open(path, "wb") as handle:
        writer = _HashingWriter(handle)
        np.save(writer, np.ascontiguousarray(array), allow_pickle=False)  # type: ignore[arg-type]
        handle.flush()
        os.fsync(handle.fileno())
    return [writer.size, writer.digest.hexdigest()]


def write_segment(segment: Segment, folder: Path) -> FileInfo:
    """Write `segment` (all rows, tombstones aside) as `folder`, atomically.

    Returns:
        The files' sizes and checksums, for the manifest.
    """
    temp = folder.with_name(f".tmp-{folder.name}")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    try:
        arrays = dict(zip(ARRAYS, (segment.ids, segment.vectors, segment.indptr, segment.rows,
                                   segment.tfs, segment.lengths), strict=True))
        files = {f"{name}.npy": write_array(temp / f"{name}.npy", array)
                 for name, array in arrays.items()}
        files["bm25_vocab.json"] = write_file(temp / "bm25_vocab.json",
                                              json.dumps(segment.vocab, ensure_ascii=False).encode())
        if segment.hnsw is not None:
            faiss = _faiss()
            data = faiss.serialize_index(segment.hnsw).tobytes()
            files["hnsw.faiss"] = write_file(temp / "hnsw.faiss", data)
        fsync_path(temp)
        shutil.rmtree(folder, ignore_errors=True)  # a leftover of a crashed write
        os.rename(temp, folder)
        fsync_path(folder.parent)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return files


def check_sizes(folder: Path, files: FileInfo) -> None:
    """Every listed file exists with its recorded size (the cheap check at open).

    Raises:
        IndexFormatError: naming the first missing or truncated file.
    """
    for name, (size, _) in files.items():
        try:
            actual = (folder / name).stat().st_size
        except OSError as exc:
            raise IndexFormatError(f"{folder / name}: missing ({exc})") from exc
        if actual != size:
            raise IndexFormatError(f"{folder / name}: {actual} bytes, the manifest says {size}")


def verify_files(folder: Path, files: FileInfo) -> list[str]:
    """Problems found by checksumming every listed file (empty when all match)."""
    problems = []
    for name, (size, checksum) in files.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != size or sha256_file(path) != checksum:
            problems.append(f"{path}: checksum mismatch")
    return problems


def _load(path: Path, *, mmap: bool = True) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexFormatError(f"{path}: unreadable array ({exc})") from exc


def open_segment(folder: Path, files: FileInfo, dim: int) -> Segment:
    """Open a written segment: sizes checked, arrays memory-mapped (ids read in full).

    Raises:
        IndexFormatError: when a file is missing, truncated or inconsistent.
    """
    check_sizes(folder, files)
    ids = np.array(_load(folder / "ids.npy"))  # small and searched on every delete
    vectors = _load(folder / "vectors.npy")
    indptr, rows, tfs = (_load(folder / f"bm25_{n}.npy") for n in ("indptr", "rows", "tf"))
    lengths = np.array(_load(folder / "bm25_lengths.npy"))
    try:
        vocab = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"{folder / 'bm25_vocab.json'}: unreadable ({exc})") from exc
    n = len(ids)
    if (vectors.shape != (n, dim) or len(lengths) != n or len(indptr) != len(vocab) + 1
            or len(rows) != len(tfs) or int(indptr[-1]) != len(rows)):
        raise IndexFormatError(f"{folder}: segment files disagree with each other")
    hnsw = None
    if "hnsw.faiss" in files:
        faiss = _faiss()
        try:
            hnsw = faiss.read_index(str(folder / "hnsw.faiss"))
        except RuntimeError as exc:
            raise IndexFormatError(f"{folder / 'hnsw.faiss'}: unreadable ({exc})") from exc
        if hnsw.ntotal != n:
            raise IndexFormatError(f"{folder}: hnsw.faiss holds {hnsw.ntotal} rows, not {n}")
    return Segment(ids, vectors, indptr, rows, tfs, lengths, vocab, hnsw)
