"""Search over a list of segments: dense (per-segment top-k merged) and BM25 (index-wide
statistics), with tombstones filtered.

BM25 (Lucene variant, as bm25s computes it) needs statistics over the whole live
collection: N (live rows), the average live length, and each query term's document
frequency summed over the segments' live postings. They are computed at query time for
the query's terms only, so a segmented index ranks exactly as one `BM25Index` over the
same live chunks would, without ever rebuilding a matrix.

Writers (the index manager) replace `SegmentSet.segments` as a whole (a pointer swap)
and tombstone rows in place, under the collection's lock, as searches read them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from indexes.base import Chunk, Hit, validate_k
from indexes.embedder import Embedder
from indexes.segment import AnnParams, Segment
from indexes.tokenize import BM25Tokenizer


class SegmentSet:
    """The live segments of one collection and their search parameters."""

    def __init__(self, dim: int, *, ann: AnnParams | None = None, k1: float = 1.5,
                 b: float = 0.75, tokenizer: BM25Tokenizer | None = None) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1!r}, b={b!r}")
        self.dim = dim
        self.ann = ann or AnnParams()
        self.k1, self.b = k1, b
        self.tokenizer = tokenizer or BM25Tokenizer()
        self.segments: list[Segment] = []

    def delete(self, chunk_ids: Sequence[int]) -> int:
        """Tombstone chunks wherever they are; returns how many live rows that hit."""
        if not len(chunk_ids):
            return 0
        ids = np.unique(np.asarray(chunk_ids, dtype=np.int64))
        return sum(segment.delete(ids) for segment in self.segments)

    def count(self) -> int:
        """Live rows over all segments."""
        return sum(s.live_count for s in self.segments)


def _top(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best (score desc, then chunk id asc)."""
    if len(ids) > k:
        cut = np.argpartition(-scores, k - 1)[:k]
        ids, scores = ids[cut], scores[cut]
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]


class SegmentedDense:
    """Dense retrieval over a `SegmentSet` (exact per small segment, HNSW per large one)."""

    name = "dense"

    def __init__(self, segments: SegmentSet, embedder: Embedder) -> None:
        self.segments = segments
        self.embedder = embedder

    def encode_chunks(self, chunks: Sequence[Chunk], *, show_progress: bool = False) -> np.ndarray:
        """Embed the indexed text of `chunks` (done outside any lock by the caller)."""
        return self.embedder.encode([c.indexed_text for c in chunks], show_progress=show_progress)

    def search(self, query: str, k: int) -> list[Hit]:
        """Top `k` chunks by cosine similarity to `query`."""
        validate_k(k)
        if self.count() == 0:
            return []
        return self.search_vector(self.embedder.encode([query])[0], k)

    def search_vector(self, vector: np.ndarray, k: int) -> list[Hit]:
        """Top `k` live chunks by inner product with a unit `vector`."""
        validate_k(k)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        found = [s.dense_top(query, k, self.segments.ann.ef_search) for s in self.segments.segments]
        if not found:
            return []
        ids, scores = _top(np.concatenate([f[0] for f in found]),
                           np.concatenate([f[1] for f in found]), k)
        return [Hit(int(i), float(s), self.name) for i, s in zip(ids, scores, strict=True)]

    def vectors_for(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of `chunk_ids` (each must be live).

        Raises:
            KeyError: for an id no segment holds live.
        """
        wanted = np.asarray(chunk_ids, dtype=np.int64).reshape(-1)
        out = np.zeros((len(wanted), self.segments.dim), dtype=np.float32)
        found = np.zeros(len(wanted), dtype=bool)
        for segment in self.segments.segments:
            if found.all():
                break
            pos = np.searchsorted(segment.ids, wanted)
            pos = np.minimum(pos, max(len(segment.ids) - 1, 0))
            if not len(segment.ids):
                continue
            hit = ~found & (segment.ids[pos] == wanted) & segment.live[pos]
            if hit.any():
                out[hit] = segment.vectors[np.sort(pos[hit])][np.argsort(np.argsort(pos[hit]))]
                found |= hit
        if not found.all():
            raise KeyError(f"chunk {int(wanted[~found][0])} is not in the dense index")
        return out

    def count(self) -> int:
        """Number of live chunks."""
        return self.segments.count()

    def stats(self) -> dict[str, Any]:
        """Chunk count, embedder, dimension and how many segments are approximate."""
        segs = self.segments.segments
        return {"chunks": self.count(), "embedder": self.embedder.name, "dim": self.embedder.dim,
                "segments": len(segs), "hnsw_segments": sum(s.hnsw is not None for s in segs)}


def _accumulate(segments: Sequence[Segment], query_terms: Sequence[str], k1: float,
                b: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Lucene BM25 of every row of `segments`, laid end to end: (scores, row offsets of
    each segment), or None when nothing can match. Rows no query term holds score 0.

    As bm25s' lucene method: idf = ln(1 + (N - df + 0.5) / (df + 0.5)) and the term part
    tf / (tf + k1 * (1 - b + b * dl / avgdl)) (no (k1 + 1) factor, which ranks the same).
    A term repeated in the query counts once per occurrence, as in bm25s. N, avgdl and df
    are over the live rows of all segments, so this equals one index over them.
    """
    counts = Counter(query_terms)
    n_docs = sum(s.live_count for s in segments)
    if n_docs == 0 or not counts:
        return None
    avgdl = sum(s.live_length for s in segments) / n_docs
    terms = list(counts)
    found = [s.postings_of(terms) for s in segments]
    df = sum((np.bincount(term, minlength=len(terms)) for term, _, _ in found),
             np.zeros(len(terms), dtype=np.int64))
    if not df.any():
        return None
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    # float32 like bm25s' eager scores; the sum per row is float64 (bincount)
    weight = (np.fromiter((counts[t] for t in terms), np.float64, len(terms)) * idf
              ).astype(np.float32)
    offsets = np.cumsum([0, *(len(s) for s in segments)])
    dense = np.zeros(int(offsets[-1]), dtype=np.float32)  # select on float32, as bm25s
    for segment, offset, (term, rows, tfs) in zip(segments, offsets, found, strict=False):
        if len(rows):
            part = weight[term] * tfs / (tfs + segment.bm25_norms(k1, b, avgdl)[rows])
            # summed per row (float64) in one pass over the postings, no sort (parts > 0)
            dense[offset:offset + len(segment)] = np.bincount(rows, weights=part,
                                                              minlength=len(segment))
    return dense, offsets


def _chunk_ids(segments: Sequence[Segment], offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Chunk ids of positions `rows` (sorted) in the end-to-end row order of `segments`."""
    cuts = np.searchsorted(rows, offsets)
    parts = [s.ids[rows[a:z] - o] for s, o, a, z in zip(segments, offsets, cuts, cuts[1:],
                                                       strict=False) if z > a]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def bm25_scores(segments: Sequence[Segment], query_terms: Sequence[str], k1: float,
                b: float) -> tuple[np.ndarray, np.ndarray]:
    """Lucene BM25 (`_accumulate`) of every live row matching a query term: (chunk ids,
    scores)."""
    summed = _accumulate(segments, query_terms, k1, b)
    if summed is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    dense, offsets = summed
    hit = np.flatnonzero(dense)
    return _chunk_ids(segments, offsets, hit), dense[hit].astype(np.float32)


def bm25_top(segments: Sequence[Segment], query_terms: Sequence[str], k1: float, b: float,
             k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best live rows by BM25 (score desc, then chunk id asc; score 0 left out).

    Selects on the dense score array (argpartition) and keeps every row tied with the
    k-th score, so ties break by chunk id exactly as a full sort would.
    """
    summed = _accumulate(segments, query_terms, k1, b)
    if summed is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    dense, offsets = summed
    if k < len(dense):
        kth = dense[np.argpartition(-dense, k - 1)[k - 1]]
        cand = np.flatnonzero(dense >= kth) if kth > 0 else np.flatnonzero(dense)
    else:
        cand = np.flatnonzero(dense)
    ids, scores = _chunk_ids(segments, offsets, cand), dense[cand]
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order].astype(np.float32)


class SegmentedBM25:
    """BM25 over a `SegmentSet`, with stemming, stopwords and CJK bigrams (`BM25Tokenizer`)."""

    name = "bm25"

    def __init__(self, segments: SegmentSet) -> None:
        self.segments = segments

    @property
    def tokenizer(self) -> BM25Tokenizer:
        """The tokenizer of indexed texts and queries."""
        return self.segments.tokenizer

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every live chunk matching a query term: (chunk ids, scores)."""
        return bm25_scores(self.segments.segments, self.tokenizer(query),
                           self.segments.k1, self.segments.b)

    def matching(self, term: str) -> np.ndarray:
        """Live chunk ids holding the index term `term` (a tokenized term): its postings
        only, no scoring (the evidence check asks this for every question term)."""
        parts = [s.ids[s.postings(term)[0]] for s in self.segments.segments]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def search(self, query: str, k: int) -> list[Hit]:
        """Top `k` chunks by BM25 score (chunks with score 0 are left out)."""
        validate_k(k)
        ids, scores = bm25_top(self.segments.segments, self.tokenizer(query),
                               self.segments.k1, self.segments.b, k)
        return [Hit(int(i), float(s), self.name) for i, s in zip(ids, scores, strict=True)]

    def count(self) -> int:
        """Number of live chunks."""
        return self.segments.count()

    def stats(self) -> dict[str, Any]:
        """Chunk count and the summed per-segment vocabulary sizes."""
        return {"chunks": self.count(),
                "vocabulary": sum(len(s.vocab) for s in self.segments.segments)}
