"""The evidence check around any retriever: measure the signals, record the verdict.

`EvidenceChecked` wraps the retriever `rag.retrieval.factory.build_retriever` builds, so
every retriever's trace has an `evidence` block: the signals of its top passages, the
thresholds and `abstain` (with the reason). `rag.retrieval.pipeline.ask` abstains on it;
the decisions themselves are pure, in `rag.retrieval.evidence`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from indexes.base import Hit, Retriever, validate_k
from indexes.tokenize import BM25Tokenizer, split_words
from rag.retrieval.base import Retrieval, TracingRetriever
from rag.retrieval.context import ChunkTexts
from rag.retrieval.evidence import (
    EVIDENCE_KEY,
    QUESTION_WORDS,
    EvidenceSignals,
    EvidenceThresholds,
    coverage,
    decide,
    is_cjk,
    no_passages,
    term_evidence,
    vouches,
)

CHECKED_PASSAGES = 3
LEXICAL_RETRIEVERS = frozenset({"bm25"})
"""Top passages the check reads: the ones an answer is mostly written from."""


class EvidenceChecked:
    """A retriever whose trace says whether its top passages answer the question."""

    def __init__(self, inner: TracingRetriever, indexes: Mapping[str, Retriever],
                 thresholds: EvidenceThresholds, *, texts: ChunkTexts | None = None,
                 passages: int = CHECKED_PASSAGES) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        # A lexical retriever is checked lexically: its cosine would load the embedding
        # model for a bm25 query (seconds at a CLI's start) for one signal of two.
        self.dense = indexes.get("dense") if self.name not in LEXICAL_RETRIEVERS else None
        self.bm25 = indexes.get("bm25")
        self.thresholds = thresholds
        self.texts = texts
        self.passages = passages

    def cosine(self, query: str, chunk_ids: Sequence[int]) -> float | None:
        """Best dense cosine between `query` and the chunks (None without a dense index)."""
        embedder = getattr(self.dense, "embedder", None)
        if self.dense is None or embedder is None or not chunk_ids or not self.dense.count():
            return None
        qvec = embedder.encode([query])[0]
        try:
            vectors = self.dense.vectors_for(list(chunk_ids))
        except (KeyError, RuntimeError, IndexError):  # a chunk deleted meanwhile: one by one
            rows = []
            for cid in chunk_ids:
                try:
                    rows.append(self.dense.vectors_for([cid]))
                except (KeyError, RuntimeError, IndexError):
                    continue
            if not rows:
                return None
            vectors = np.vstack(rows)
        return float((vectors @ qvec).max())

    def term_signals(self, query: str, chunk_ids: Sequence[int]) -> tuple[list, int]:
        """The question's terms with their df and presence in the chunks; the live count."""
        if self.bm25 is None or not hasattr(self.bm25, "scores"):
            return [], 0
        tokenizer: BM25Tokenizer = getattr(self.bm25, "tokenizer", None) or BM25Tokenizer()
        wanted = {int(c) for c in chunk_ids}
        df: dict[str, int] = {}
        present: set[str] = set()
        terms: list[str] = []
        # Word by word (a CJK run comes as its bigrams), each through the index's own
        # tokenizer: a stem stemmed again can change, so the index is asked with the word.
        for word in dict.fromkeys(split_words(query)):
            term = (tokenizer(word) or [None])[0] if word not in QUESTION_WORDS else None
            if term is None or term in df:
                continue
            found = self._matching(word, term)
            df[term] = int(len(found))
            if wanted & set(found.tolist()):
                present.add(term)
            terms.append(term)
        text = ""
        if self.texts is not None and any(is_cjk(t) and not df[t] for t in terms):
            rows = self.texts(list(chunk_ids))
            text = "\n".join(f"{r.title}\n{r.text}" for r in rows.values())
        return term_evidence(terms, df, present, text), int(self.bm25.count())

    def _matching(self, word: str, term: str) -> np.ndarray:
        """Chunk ids holding `term`: the index's postings when it has them (a segmented
        index), else the chunks `word` scores above 0 for (a full scoring pass)."""
        matching = getattr(self.bm25, "matching", None)
        if matching is not None:
            return matching(term)
        ids, scores = self.bm25.scores(word)
        return ids[np.asarray(scores) > 0] if len(scores) else ids[:0]

    def signals(self, query: str, chunk_ids: Sequence[int]) -> EvidenceSignals:
        """The check's signals for `query` over the chunks (its top passages)."""
        terms, n = self.term_signals(query, chunk_ids)
        return EvidenceSignals(self.cosine(query, chunk_ids), coverage(terms, max(n, 1)),
                               tuple(terms))

    def retrieve(self, query: str, k: int) -> Retrieval:
        """The inner retriever's hits, with the check's `evidence` block in the trace."""
        validate_k(k)
        result = self.inner.retrieve(query, k)
        ids = [h.chunk_id for h in result.hits[: self.passages]]
        signals = self.signals(query, ids) if ids else EvidenceSignals(None, None)
        verdict = decide(signals, self.thresholds) if ids else no_passages()
        block = {"abstain": verdict is not None, "vouches": bool(ids) and vouches(signals, self.thresholds),
                 **signals.to_dict(),
                 "thresholds": self.thresholds.to_dict(), "passages": len(ids)}
        if verdict is not None:
            block["reason"] = verdict.reason
        return Retrieval(result.hits, {**result.trace, EVIDENCE_KEY: block})

    def search(self, query: str, k: int) -> list[Hit]:
        """The inner retriever's hits."""
        return self.retrieve(query, k).hits
