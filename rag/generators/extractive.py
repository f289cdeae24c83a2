"""Extractive answers with no model: the best supporting sentences, each cited.

A sentence's score mixes its embedding similarity to the question (the sentence is
embedded with its passage title, so "He was born in 1950." keeps its subject), the share
of the question's terms it contains, and a prior for its passage's retrieval rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexes.embedder import Embedder
from indexes.tokenize import BM25Tokenizer
from rag.answers import NO_ANSWER, Answer, Citation, Passage
from rag.ingest.chunking import split_sentences

SEMANTIC_WEIGHT = 0.6
LEXICAL_WEIGHT = 0.3
RANK_WEIGHT = 0.1


@dataclass(frozen=True)
class Candidate:
    """One sentence of one passage."""

    passage: int
    start: int
    end: int


def sentence_candidates(passages: Sequence[Passage], *, max_chars: int = 600) -> list[Candidate]:
    """Every sentence of every passage (offsets within the passage text)."""
    found = []
    for n, passage in enumerate(passages):
        for start, end in split_sentences(passage.text):
            if end - start >= 3:
                found.append(Candidate(n, start, min(end, start + max_chars)))
    return found


def score_candidates(similarity: np.ndarray, overlap: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Combine per-sentence signals (all arrays of equal length) into one score."""
    return SEMANTIC_WEIGHT * similarity + LEXICAL_WEIGHT * overlap + RANK_WEIGHT / (1.0 + ranks)


def pick_sentences(scores: np.ndarray, *, limit: int, floor: float, relative: float = 0.6,
                   ) -> list[int]:
    """Indices of the best `limit` sentences, best first, scoring at least `floor` and at
    least `relative` times the best score (so weak filler does not pad a good answer)."""
    if len(scores) == 0:
        return []
    cutoff = max(floor, relative * float(scores.max()))
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[:limit] if scores[i] >= cutoff]


class ExtractiveGenerator:
    """Answers with the passages' own sentences; needs only the embedder."""

    name = "extractive"

    def __init__(self, embedder: Embedder, *, max_sentences: int = 3, floor: float = 0.15) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {max_sentences!r}")
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.floor = floor
        self.tokenizer = BM25Tokenizer()

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        """Build an answer from the best sentences of `passages`, each with its citation."""
        candidates = sentence_candidates(passages)
        if not candidates:
            return Answer(NO_ANSWER, [], True, self.name)
        texts = [passages[c.passage].text[c.start:c.end] for c in candidates]
        titled = [f"{passages[c.passage].title}: {t}" for c, t in zip(candidates, texts, strict=True)]
        vectors = self.embedder.encode([question, *titled])
        similarity = vectors[1:] @ vectors[0]
        terms = set(self.tokenizer(question))
        overlap = np.array([len(terms & set(self.tokenizer(t))) / max(1, len(terms)) for t in titled])
        ranks = np.array([c.passage for c in candidates], dtype=np.float64)
        scores = score_candidates(similarity, overlap, ranks)
        chosen = pick_sentences(scores, limit=self.max_sentences, floor=self.floor)
        if not chosen:
            return Answer(NO_ANSWER, [], True, self.name)
        citations, parts = [], []
        for n, i in enumerate(chosen, start=1):
            c, p = candidates[i], passages[candidates[i].passage]
            citations.append(Citation(p.chunk_id, p.document_id, p.title, texts[i],
                                      p.start + c.start, p.start + c.end, round(float(scores[i]), 4)))
            parts.append(f"{texts[i].strip()} [{n}]")
        return Answer(" ".join(parts), citations, False, self.name)
