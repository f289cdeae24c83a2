"""Sparse BM25 (bm25s, Lucene variant) with incremental add and immediate delete.

bm25s builds an eager score matrix and cannot append to it, so the index keeps each
chunk's term ids and rebuilds the matrix lazily, on the first search after a change.
A rebuild costs about a second per 100K chunks; deletes take effect at once by masking.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import Chunk, Hit, validate_k
from indexes.errors import IndexFormatError
from indexes.persist import load_array, read_meta, save_array, write_meta
from indexes.tokenize import BM25Tokenizer


class BM25Index:
    """BM25 over chunks' `title\\ntext`, with stemming, stopwords and CJK bigrams."""

    name = "bm25"

    def __init__(self, *, k1: float = 1.5, b: float = 0.75, method: str = "lucene",
                 tokenizer: BM25Tokenizer | None = None) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1!r}, b={b!r}")
        self.k1, self.b, self.method = k1, b, method
        self.tokenizer = tokenizer or BM25Tokenizer()
        self._vocab: dict[str, int] = {}
        self._terms: dict[int, np.ndarray] = {}  # chunk id -> term ids
        self._model: Any = None
        self._row_ids = np.zeros(0, dtype=np.int64)  # matrix row -> chunk id

    # -- writes ---------------------------------------------------------------
    def _term_ids(self, terms: list[str]) -> np.ndarray:
        vocab = self._vocab
        return np.fromiter((vocab.setdefault(t, len(vocab)) for t in terms), dtype=np.int32,
                           count=len(terms))

    def add(self, chunks: Sequence[Chunk]) -> None:
        """Tokenize and index `chunks` (a present id is replaced)."""
        for chunk in chunks:
            self._terms[int(chunk.id)] = self._term_ids(self.tokenizer(chunk.indexed_text))
        if chunks:
            self._model = None

    def delete(self, chunk_ids: Sequence[int]) -> None:
        """Remove chunks; they are masked at once and dropped at the next rebuild."""
        removed = [self._terms.pop(int(i), None) is not None for i in chunk_ids]
        if any(removed):
            self._model = None

    # -- reads ----------------------------------------------------------------
    def _ensure_model(self) -> Any:
        if self._model is None and self._terms:
            import bm25s
            from bm25s.tokenization import Tokenized

            self._row_ids = np.fromiter(self._terms.keys(), dtype=np.int64, count=len(self._terms))
            corpus = Tokenized(ids=[t.tolist() for t in self._terms.values()], vocab=self._vocab)
            model = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
            model.index(corpus, show_progress=False, create_empty_token=False)
            self._model = model
        return self._model

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every live chunk: (chunk ids, scores)."""
        model = self._ensure_model()
        ids = [self._vocab[t] for t in self.tokenizer(query) if t in self._vocab]
        if model is None or not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return self._row_ids, model.get_scores_from_ids(ids)

    def search(self, query: str, k: int) -> list[Hit]:
        """Top `k` chunks by BM25 score (chunks with score 0 are left out)."""
        validate_k(k)
        row_ids, scores = self.scores(query)
        if len(scores) == 0:
            return []
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((row_ids[top], -scores[top]))]
        return [Hit(int(row_ids[i]), float(scores[i]), self.name) for i in top if scores[i] > 0]

    # -- persistence ----------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write term ids (flat + offsets), chunk ids and the vocabulary."""
        ids = np.fromiter(self._terms.keys(), dtype=np.int64, count=len(self._terms))
        lengths = np.fromiter((len(t) for t in self._terms.values()), dtype=np.int64, count=len(ids))
        flat = np.concatenate(list(self._terms.values())) if self._terms else np.zeros(0, np.int32)
        save_array(directory / "bm25_ids.npy", ids)
        save_array(directory / "bm25_lengths.npy", lengths)
        save_array(directory / "bm25_terms.npy", flat.astype(np.int32))
        vocab = sorted(self._vocab, key=self._vocab.__getitem__)
        write_meta(directory, "bm25", {"k1": self.k1, "b": self.b, "method": self.method,
                                       "count": len(ids), "vocab": vocab})

    def load(self, directory: Path) -> None:
        """Read what `save` wrote.

        Raises:
            IndexFormatError: when files are missing, corrupt or inconsistent.
        """
        meta = read_meta(directory, "bm25")
        ids = load_array(directory / "bm25_ids.npy")
        lengths = load_array(directory / "bm25_lengths.npy")
        flat = load_array(directory / "bm25_terms.npy")
        if len(ids) != meta["count"] or len(lengths) != len(ids) or lengths.sum() != len(flat):
            raise IndexFormatError(f"{directory}: bm25 files disagree with each other")
        self.k1, self.b, self.method = meta["k1"], meta["b"], meta["method"]
        self._vocab = {term: i for i, term in enumerate(meta["vocab"])}
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        self._terms = {int(i): flat[bounds[n]:bounds[n + 1]] for n, i in enumerate(ids)}
        self._model = None

    def export(self) -> dict[int, list[str]]:
        """Every chunk's terms by chunk id, for converting to segments."""
        vocab = sorted(self._vocab, key=self._vocab.__getitem__)
        return {cid: [vocab[t] for t in terms] for cid, terms in self._terms.items()}

    def count(self) -> int:
        """Number of live chunks."""
        return len(self._terms)

    def stats(self) -> dict[str, Any]:
        """Chunk and vocabulary counts."""
        return {"chunks": self.count(), "vocabulary": len(self._vocab)}
