"""A segment on disk: ONE file, written once (so one fsync per sync, not one per array).

    seg-<n>.seg = b"RAGSEG01" | arrays, each 64-byte aligned | footer JSON | u64 length | b"RAGSEG01"

The arrays are ids, vectors, the BM25 CSC matrix (indptr, rows, tf) and doc lengths;
the footer names each array's dtype, shape and offset, and holds the BM25 vocabulary.
A large segment's FAISS HNSW graph is a second file, `seg-<n>.hnsw`, that FAISS reads
with its vector storage memory-mapped (IO_FLAG_MMAP_IFC), so it costs no second copy. `write_segment` writes
the file at its final name (a crash leaves a file no manifest names, removed at open),
hashes while writing and fsyncs it; the caller's manifest write then fsyncs the folder.
`open_segment` checks the size only and memory-maps the arrays; `verify_files` is the
full checksum walk (`ragmem index verify`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from indexes.dense import _faiss
from indexes.errors import IndexFormatError
from indexes.segment import Segment

MAGIC = b"RAGSEG01"
ALIGN = 64
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


def _arrays(segment: Segment) -> dict[str, np.ndarray]:
    arrays = {"ids": segment.ids, "vectors": segment.vectors, "bm25_indptr": segment.indptr,
              "bm25_rows": segment.rows, "bm25_tf": segment.tfs, "bm25_lengths": segment.lengths}
    return arrays


def write_segment(segment: Segment, path: Path) -> FileInfo:
    """Write `segment` (all rows, tombstones aside) as the file `path`, fsynced.

    Returns:
        The file's size and checksum, for the manifest.
    """
    footer: dict[str, Any] = {"arrays": {}, "vocab": segment.vocab}
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "wb") as handle:
            writer = _HashingWriter(handle)
            writer.write(MAGIC)
            for name, array in _arrays(segment).items():
                array = np.ascontiguousarray(array)
                pad = -writer.size % ALIGN
                writer.write(b"\0" * pad)
                footer["arrays"][name] = {"dtype": array.dtype.str, "shape": list(array.shape),
                                          "offset": writer.size}
                for start in range(0, max(len(array), 1), 1 << 16):  # bounded copies
                    writer.write(array[start:start + (1 << 16)].tobytes())
            tail = json.dumps(footer, ensure_ascii=False).encode()
            writer.write(tail)
            writer.write(len(tail).to_bytes(8, "little") + MAGIC)
            handle.flush()
            os.fsync(handle.fileno())
        files = {path.name: [writer.size, writer.digest.hexdigest()]}
        if segment.hnsw is not None:
            graph = path.with_suffix(".hnsw")
            _faiss().write_index(segment.hnsw, str(graph))
            fsync_path(graph)
            files[graph.name] = [graph.stat().st_size, sha256_file(graph)]
    except BaseException:
        path.unlink(missing_ok=True)
        path.with_suffix(".hnsw").unlink(missing_ok=True)
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


def open_segment(folder: Path, files: FileInfo, dim: int) -> Segment:
    """Open a written segment file of `folder`: size checked, arrays memory-mapped (ids and
    lengths read in full: small, and used on every delete and query).

    Raises:
        IndexFormatError: when the file is missing, truncated or inconsistent.
    """
    check_sizes(folder, files)
    path = folder / next(name for name in files if name.endswith(".seg"))
    try:
        with open(path, "rb") as handle:
            handle.seek(-16, os.SEEK_END)
            length, magic = int.from_bytes(handle.read(8), "little"), handle.read(8)
            if magic != MAGIC:
                raise IndexFormatError(f"{path}: not a segment file")
            handle.seek(-16 - length, os.SEEK_END)
            footer = json.loads(handle.read(length))
        raw = np.memmap(path, dtype=np.uint8, mode="r")
        arrays = {}
        for key, spec in footer["arrays"].items():
            dtype = np.dtype(spec["dtype"])
            count = int(np.prod(spec["shape"], dtype=np.int64))
            end = spec["offset"] + count * dtype.itemsize
            if end > len(raw):
                raise IndexFormatError(f"{path}: array {key} runs past the end")
            arrays[key] = raw[spec["offset"]:end].view(dtype).reshape(spec["shape"])
        vocab = footer["vocab"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexFormatError(f"{path}: unreadable segment ({exc})") from exc
    ids, lengths = np.array(arrays["ids"]), np.array(arrays["bm25_lengths"])
    vectors, indptr = arrays["vectors"], arrays["bm25_indptr"]
    rows, tfs = arrays["bm25_rows"], arrays["bm25_tf"]
    n = len(ids)
    if (vectors.shape != (n, dim) or len(lengths) != n or len(indptr) != len(vocab) + 1
            or len(rows) != len(tfs) or int(indptr[-1]) != len(rows)):
        raise IndexFormatError(f"{path}: segment arrays disagree with each other")
    hnsw = None
    graph = path.with_suffix(".hnsw")
    if graph.name in files:
        faiss = _faiss()
        try:
            hnsw = faiss.read_index(str(graph), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError as exc:
            raise IndexFormatError(f"{graph}: unreadable HNSW graph ({exc})") from exc
        if hnsw.ntotal != n:
            raise IndexFormatError(f"{path}: the HNSW graph holds {hnsw.ntotal} rows, not {n}")
    return Segment(ids, vectors, indptr, rows, tfs, lengths, vocab, hnsw)
