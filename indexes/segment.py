"""An immutable index segment: the dense vectors and BM25 postings of a set of chunks.

A segment is built once (from a sync's added chunks, or by merging segments) and never
changes afterwards except for its tombstones: a boolean `live` mask over its rows. Rows
are sorted by chunk id, so finding a chunk is a binary search. BM25 postings are a CSC
term-frequency matrix over the segment's own vocabulary, built at write time; scoring
with index-wide statistics lives in `indexes.segmented`. Segments at or above
`AnnParams.threshold` rows also carry a FAISS HNSW graph over their rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexes.dense import _faiss


@dataclass(frozen=True)
class AnnParams:
    """When and how a segment gets an approximate (HNSW) dense index.

    threshold: rows from which a segment is searched through HNSW instead of exactly.
    m, ef_construction, ef_search: FAISS `IndexHNSWFlat` parameters.
    """

    threshold: int = 50_000
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 256  # recall@10 0.83 -> 0.94 at 100K (bench scale --ef-search)


def build_hnsw(vectors: np.ndarray, params: AnnParams) -> Any:
    """An inner-product HNSW graph over `vectors` (row positions are its labels)."""
    faiss = _faiss()
    index = faiss.IndexHNSWFlat(vectors.shape[1], params.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = params.ef_construction
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


class Segment:
    """Rows of chunks (sorted by id) with vectors, BM25 postings and a tombstone mask.

    Args:
        ids: chunk ids, int64, strictly increasing.
        vectors: float32 (rows, dim) unit vectors, row-aligned with `ids`.
        indptr, rows, tfs: the CSC term x row matrix of term frequencies.
        lengths: tokens per row (BM25 document length).
        vocab: the segment's terms; column j of the matrix is `vocab[j]`.
        hnsw: a FAISS HNSW index over the rows, or None (exact search).
    """

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, indptr: np.ndarray,
                 rows: np.ndarray, tfs: np.ndarray, lengths: np.ndarray, vocab: list[str],
                 hnsw: Any = None) -> None:
        self.ids, self.vectors = ids, vectors
        self.indptr, self.rows, self.tfs, self.lengths = indptr, rows, tfs, lengths
        self.vocab = vocab
        self.terms = {t: j for j, t in enumerate(vocab)}
        self.hnsw = hnsw
        self.live = np.ones(len(ids), dtype=bool)
        self.deleted = 0
        self.live_length = int(lengths.sum(dtype=np.int64))
        self._bitmap: Any = None  # packed live mask for FAISS' IDSelectorBitmap
        self._norms: tuple[tuple[float, float, float], np.ndarray] | None = None
        # Set by whoever persists it: its folder name, files and last written tombstones.
        self.name: str | None = None
        self.files: dict[str, list[Any]] = {}
        self.deletes_record: dict[str, Any] | None = None
        self.saved_deleted = 0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def live_count(self) -> int:
        """Rows not tombstoned."""
        return len(self.ids) - self.deleted

    # -- tombstones -----------------------------------------------------------
    def locate(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Row positions of those of `chunk_ids` this segment holds (live or not)."""
        if len(self.ids) == 0 or len(chunk_ids) == 0:
            return np.zeros(0, dtype=np.int64)
        pos = np.searchsorted(self.ids, chunk_ids)
        inside = pos < len(self.ids)
        pos = pos[inside]
        # equal to the id looked up (not merely to some id asked for): an absent id lands
        # on a neighbour's row, which isin would count twice (deleted and live_length off)
        return pos[self.ids[pos] == np.asarray(chunk_ids)[inside]]

    def delete(self, chunk_ids: np.ndarray) -> int:
        """Tombstone the rows of `chunk_ids`; returns how many were live."""
        rows = self.locate(chunk_ids)
        rows = rows[self.live[rows]]
        if len(rows):
            self.live[rows] = False
            self.deleted += len(rows)
            self.live_length -= int(self.lengths[rows].sum(dtype=np.int64))
            self._bitmap = None
        return len(rows)

    def deleted_ids(self) -> np.ndarray:
        """Chunk ids of the tombstoned rows, sorted."""
        return self.ids[~self.live] if self.deleted else np.zeros(0, dtype=np.int64)

    def vector(self, chunk_id: int) -> np.ndarray | None:
        """The stored vector of a live chunk, or None."""
        rows = self.locate(np.asarray([chunk_id], dtype=np.int64))
        return np.asarray(self.vectors[rows[0]]) if len(rows) and self.live[rows[0]] else None

    # -- dense ----------------------------------------------------------------
    def dense_top(self, query: np.ndarray, k: int, ef_search: int) -> tuple[np.ndarray, np.ndarray]:
        """Top `k` live rows by inner product: (chunk ids, scores)."""
        if self.live_count == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, self.live_count)
        if self.hnsw is not None:
            return self._hnsw_top(query, k, ef_search)
        scores = np.asarray(self.vectors @ query, dtype=np.float32)
        if self.deleted:
            scores[~self.live] = -np.inf
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        return self.ids[top], scores[top]

    def _hnsw_top(self, query: np.ndarray, k: int, ef_search: int) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(ef_search, k)
        if self.deleted:
            if self._bitmap is None:
                self._bitmap = np.packbits(self.live, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(self.live), faiss.swig_ptr(self._bitmap))
            params.sel = selector
        scores, rows = self.hnsw.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        keep = rows[0] >= 0
        return self.ids[rows[0][keep]], scores[0][keep]

    # -- bm25 -----------------------------------------------------------------
    def bm25_norms(self, k1: float, b: float, avgdl: float) -> np.ndarray:
        """Per row `k1 * (1 - b + b * length / avgdl)` (float32), cached for the last
        (k1, b, avgdl): avgdl is index-wide, so it changes only when a write lands, and
        this O(rows) pass then replaces a gather + three operations per posting per query."""
        key = (k1, b, avgdl)
        cached = self._norms
        if cached is not None and cached[0] == key:
            return cached[1]
        norms = (k1 * (1 - b) + (k1 * b / avgdl) * np.asarray(self.lengths, np.float64)
                 ).astype(np.float32)
        self._norms = (key, norms)  # one tuple: a reader sees the old pair or the new one
        return norms

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Live rows holding `term` and its frequency in each."""
        j = self.terms.get(term)
        if j is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        start, end = int(self.indptr[j]), int(self.indptr[j + 1])
        rows, tfs = self.rows[start:end], self.tfs[start:end]
        if self.deleted:
            keep = self.live[rows]
            rows, tfs = rows[keep], tfs[keep]
        return rows, tfs

    def postings_of(self, terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The live postings of all `terms` at once: (term position in `terms`, row, tf).

        One gather per segment instead of one slice per (segment, term): with many
        segments, numpy's per-call overhead, not the postings, was the query's cost.
        """
        cols = [(i, j) for i, j in enumerate(self.terms.get(t, -1) for t in terms) if j >= 0]
        if not cols:
            return _empty_postings()
        which = np.fromiter((i for i, _ in cols), dtype=np.int64, count=len(cols))
        col = np.fromiter((j for _, j in cols), dtype=np.int64, count=len(cols))
        starts = np.asarray(self.indptr[col], dtype=np.int64)
        lens = np.asarray(self.indptr[col + 1], dtype=np.int64) - starts
        total = int(lens.sum())
        if total == 0:
            return _empty_postings()
        # the concatenated ranges starts[i] .. starts[i] + lens[i]
        index = np.arange(total, dtype=np.int64) + np.repeat(starts - (np.cumsum(lens) - lens), lens)
        term, rows, tfs = np.repeat(which, lens), self.rows[index], self.tfs[index]
        if self.deleted:
            keep = self.live[rows]
            term, rows, tfs = term[keep], rows[keep], tfs[keep]
        return term, rows, tfs


def _empty_postings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)


def _csc(doc_rows: np.ndarray, term_cols: np.ndarray, tfs: np.ndarray, n_rows: int,
         n_terms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSC arrays (indptr, rows, tf) of a term x row matrix, duplicates summed."""
    from scipy.sparse import coo_matrix

    matrix = coo_matrix((tfs.astype(np.float32), (doc_rows, term_cols)),
                        shape=(n_rows, n_terms)).tocsc()
    matrix.sum_duplicates()
    matrix.sort_indices()
    return (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32),
            matrix.data.astype(np.float32))


def build_segment(ids: Sequence[int], vectors: np.ndarray, term_lists: Sequence[Sequence[str]],
                  ann: AnnParams | None = None) -> Segment:
    """A segment of chunks `ids` with their vectors and tokenized texts (any order)."""
    if not len(ids) == len(vectors) == len(term_lists):
        raise ValueError(f"{len(ids)} ids, {len(vectors)} vectors, {len(term_lists)} texts")
    id_array = np.asarray(ids, dtype=np.int64)
    order = np.argsort(id_array, kind="stable")
    id_array = id_array[order]
    if len(id_array) > 1 and not (np.diff(id_array) > 0).all():
        raise ValueError("a segment's chunk ids must be unique")
    vocab: dict[str, int] = {}
    cols = [np.fromiter((vocab.setdefault(t, len(vocab)) for t in term_lists[i]), dtype=np.int64,
                        count=len(term_lists[i])) for i in order]
    lengths = np.fromiter((len(c) for c in cols), dtype=np.int32, count=len(cols))
    flat = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    doc_rows = np.repeat(np.arange(len(cols), dtype=np.int64), lengths)
    indptr, rows, tfs = _csc(doc_rows, flat, np.ones(len(flat), np.float32), len(cols), len(vocab))
    dense = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order])
    return _finish(id_array, dense, indptr, rows, tfs, lengths, list(vocab), ann)


def _finish(ids: np.ndarray, vectors: np.ndarray, indptr: np.ndarray, rows: np.ndarray,
            tfs: np.ndarray, lengths: np.ndarray, vocab: list[str], ann: AnnParams | None) -> Segment:
    hnsw = build_hnsw(vectors, ann) if ann is not None and len(ids) >= ann.threshold else None
    return Segment(ids, vectors, indptr, rows, tfs, lengths, vocab, hnsw)


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def merge_segments(segments: Sequence[Segment], ann: AnnParams | None = None,
                   dim: int | None = None) -> Segment:
    """One segment holding the live rows of `segments` (tombstoned rows are dropped).

    The sources are only read, so searches may go on using them meanwhile.
    """
    if not segments and dim is None:
        raise ValueError("merging no segments needs the dimension")
    dim = dim if dim is not None else segments[0].vectors.shape[1]
    keeps = [np.flatnonzero(s.live) for s in segments]
    ids = np.concatenate([s.ids[k] for s, k in zip(segments, keeps, strict=True)]
                         or [np.zeros(0, np.int64)])
    order = np.argsort(ids, kind="stable")
    new_row = np.empty(len(ids), dtype=np.int64)
    new_row[order] = np.arange(len(ids))
    vectors = np.concatenate([np.asarray(s.vectors)[k] for s, k in zip(segments, keeps, strict=True)]
                             or [np.zeros((0, dim), np.float32)])[order]
    lengths = np.concatenate([s.lengths[k] for s, k in zip(segments, keeps, strict=True)]
                             or [np.zeros(0, np.int32)])[order]
    vocab: dict[str, int] = {}
    parts_rows, parts_cols, parts_tf = [], [], []
    offset = 0
    for seg, keep in zip(segments, keeps, strict=True):
        # old row -> merged row (-1 for dropped rows), old column -> merged column
        row_map = np.full(len(seg), -1, dtype=np.int64)
        row_map[keep] = new_row[offset:offset + len(keep)]
        offset += len(keep)
        col_map = np.fromiter((vocab.setdefault(t, len(vocab)) for t in seg.vocab),
                              dtype=np.int64, count=len(seg.vocab))
        cols = np.repeat(col_map, np.diff(seg.indptr))
        rows = row_map[np.asarray(seg.rows)]
        alive = rows >= 0
        parts_rows.append(rows[alive])
        parts_cols.append(cols[alive])
        parts_tf.append(np.asarray(seg.tfs)[alive])
    indptr, rows, tfs = _csc(_cat(parts_rows, np.int64), _cat(parts_cols, np.int64),
                             _cat(parts_tf, np.float32), len(ids), len(vocab))
    # Terms only dropped rows held stay in the vocabulary with empty postings: harmless.
    return _finish(ids[order], np.ascontiguousarray(vectors), indptr, rows, tfs,
                   lengths.astype(np.int32), list(vocab), ann)
