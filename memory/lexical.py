"""A small BM25 inverted index over memory blocks, so exact keys, numbers and UUIDs match.

Terms come from `memory.tokens.lexical_terms` (compound tokens kept whole), so a UUID or a
passkey is one rare term with a high IDF. Scoring is Okapi BM25 (Robertson & Zaragoza,
2009, "The Probabilistic Relevance Framework: BM25 and Beyond").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy loads when a memory first builds its matrix (issue 19.7)
    from scipy import sparse

from memory.tokens import lexical_terms


def bm25_term_scores(
    tf: np.ndarray,
    doc_len: np.ndarray,
    *,
    idf: float,
    avgdl: float,
    k1: float = 1.2,
    b: float = 0.75,
) -> np.ndarray:
    """BM25 contribution of one term to the documents that contain it.

    Args:
        tf: Term frequency in each such document.
        doc_len: Length (in terms) of each such document.
        idf: The term's inverse document frequency.
        avgdl: Mean document length.
        k1: Term-frequency saturation.
        b: Length normalisation.

    Returns:
        One float32 score per document.
    """
    norm = k1 * (1.0 - b + b * doc_len / max(avgdl, 1e-9))
    return (idf * tf * (k1 + 1.0) / (tf + norm)).astype(np.float32)


def bm25_idf(df: int, n_docs: int) -> float:
    """The BM25 (Lucene, always positive) inverse document frequency."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


class LexicalIndex:
    """Block-term frequencies in a sparse matrix; blocks are appended in order."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._lengths: list[int] = []
        self._df: list[int] = []
        self._matrix: sparse.csc_matrix | None = None
        self._length_array = np.zeros(0, dtype=np.float32)

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, texts: Sequence[str]) -> None:
        """Append one document (block) per text."""
        for text in texts:
            counts = Counter(lexical_terms(text))
            row = len(self._lengths)
            cols = np.fromiter((self._term_id(t) for t in counts), dtype=np.int32, count=len(counts))
            for col in cols:
                self._df[col] += 1
            self._rows.append(np.full(len(cols), row, dtype=np.int32))
            self._cols.append(cols)
            self._vals.append(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
            self._lengths.append(sum(counts.values()))
        self._matrix = None

    def _term_id(self, term: str) -> int:
        tid = self.vocab.get(term)
        if tid is None:
            tid = self.vocab[term] = len(self.vocab)
            self._df.append(0)
        return tid

    def idf(self, terms: Sequence[str]) -> list[float]:
        """IDF of each term (unseen terms get the highest IDF)."""
        n = len(self._lengths)
        return [bm25_idf(self._df[self.vocab[t]] if t in self.vocab else 0, n) for t in terms]

    def prepare(self) -> sparse.csc_matrix:
        """Build the column-major matrix used by `scores` (done lazily; call it to warm up)."""
        if self._matrix is None:
            self._length_array = np.asarray(self._lengths, dtype=np.float32)
            shape = (len(self._lengths), len(self.vocab))
            if self._rows:
                rows, cols = np.concatenate(self._rows), np.concatenate(self._cols)
                vals = np.concatenate(self._vals)
                self._rows, self._cols, self._vals = [rows], [cols], [vals]
            else:
                rows = cols = np.zeros(0, dtype=np.int32)
                vals = np.zeros(0, dtype=np.float32)
            from scipy import sparse

            self._matrix = sparse.csc_matrix((vals, (rows, cols)), shape=shape)
        return self._matrix

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every block for `query` (zeros where no term matches)."""
        n = len(self._lengths)
        out = np.zeros(n, dtype=np.float32)
        terms = [t for t in dict.fromkeys(lexical_terms(query)) if t in self.vocab]
        if not terms or n == 0:
            return out
        matrix = self.prepare()
        lengths = self._length_array
        avgdl = float(lengths.mean())
        for term in terms:
            col = self.vocab[term]
            lo, hi = matrix.indptr[col], matrix.indptr[col + 1]
            docs = matrix.indices[lo:hi]
            idf = bm25_idf(hi - lo, n)
            out[docs] += bm25_term_scores(matrix.data[lo:hi], lengths[docs], idf=idf, avgdl=avgdl)
        return out

    def nbytes(self) -> int:
        """Approximate bytes held by the term matrix (not the vocabulary)."""
        return sum(a.nbytes for a in self._rows + self._cols + self._vals)
