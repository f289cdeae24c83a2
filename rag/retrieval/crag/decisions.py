"""CRAG decisions, pure: the retrieval evaluator, the three-way grade, strips, rewrites.

Corrective RAG (Yan et al., "Corrective Retrieval Augmented Generation", 2024) grades the
retrieved documents with a light evaluator and acts on the grade: Correct refines the
documents (decompose into strips, keep the relevant ones, recompose), Incorrect discards
them and searches elsewhere with a rewritten query, Ambiguous does both. Our offline
evaluator is a logistic combination of dense cosine, BM25 score per query term and entity
overlap, whose weights and two thresholds `ragmem calibrate` fits per collection; with a
generator, an LLM grades each passage instead. Here we also abstain when the second search
is graded Incorrect too. The retriever that runs these steps is `rag.retrieval.crag.retriever`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from indexes.tokenize import BM25Tokenizer
from rag.errors import RagmemError
from rag.ingest.chunking import split_sentences
from rag.retrieval.context import JSONGenerator
from rag.retrieval.query_variants import extract_entities

CORRECT, AMBIGUOUS, INCORRECT = "correct", "ambiguous", "incorrect"
FEATURES = ("cosine", "bm25", "entities")
_QUESTION_WORDS = frozenset(
    "who whom whose what which when where why how is was were are did does do the a an of "
    "in on at to for by".split())

GRADES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"grades": {"type": "array", "items": {"type": "number"}}},
    "required": ["grades"],
}


class GradingError(RagmemError):
    """An LLM grading reply did not hold one number in [0, 1] per passage."""


@dataclass(frozen=True)
class Evaluator:
    """A calibrated logistic evaluator: P(relevant) = sigmoid(w . features + bias)."""

    weights: Mapping[str, float]
    bias: float
    upper: float
    lower: float

    def __post_init__(self) -> None:
        if not 0 <= self.lower <= self.upper <= 1:
            raise ValueError(f"need 0 <= lower <= upper <= 1, got lower={self.lower!r}, "
                             f"upper={self.upper!r}")
        unknown = set(self.weights) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown evaluator features {sorted(unknown)}; know {FEATURES}")

    def probability(self, features: Mapping[str, float]) -> float:
        """P(relevant) of one chunk from its features (missing features count as 0)."""
        z = self.bias + sum(w * float(features.get(n, 0.0)) for n, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def grade(self, scores: Sequence[float]) -> str:
        """The retrieval's label (see `grade`)."""
        return grade(scores, upper=self.upper, lower=self.lower)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], defaults: Evaluator) -> Evaluator:
        """An evaluator from a calibration dict; absent keys keep `defaults`' values."""
        return cls(weights=dict(data.get("weights", defaults.weights)),
                   bias=float(data.get("bias", defaults.bias)),
                   upper=float(data.get("upper", defaults.upper)),
                   lower=float(data.get("lower", defaults.lower)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what `crag.json` stores)."""
        return {"weights": dict(self.weights), "bias": self.bias, "upper": self.upper,
                "lower": self.lower}


def grade(scores: Sequence[float], *, upper: float, lower: float) -> str:
    """CRAG's three-way label over the graded chunks' relevance scores.

    Correct when at least one chunk scores above `upper`; Incorrect when every chunk
    scores below `lower` (or there is none); Ambiguous otherwise.
    """
    if not scores or max(scores) < lower:
        return INCORRECT
    if max(scores) > upper:
        return CORRECT
    return AMBIGUOUS


def query_entities(query: str) -> list[str]:
    """The entities a question names (lower-cased), for the overlap feature."""
    return [e.lower() for e in extract_entities(query)]


def entity_overlap(entities: Sequence[str], query_terms: set[str], text: str,
                   text_terms: set[str]) -> float:
    """Share of the question's entities found in `text`; with none, share of its terms."""
    if entities:
        lowered = text.lower()
        return sum(1 for e in entities if e in lowered) / len(entities)
    if not query_terms:
        return 0.0
    return len(query_terms & text_terms) / len(query_terms)


def keyword_rewrite(query: str, tokenizer: BM25Tokenizer) -> str:
    """The query as keywords: its entities, then its content words (CRAG's web query).

    Returns the original query when nothing is left.
    """
    entities = extract_entities(query)
    covered = {w.lower() for e in entities for w in e.split()}
    words = [w for w in re.findall(r"[\w'’\-]+", query)
             if w.lower() not in tokenizer.stopwords and w.lower() not in _QUESTION_WORDS
             and w.lower() not in covered]
    keywords = " ".join([*entities, *words]).strip()
    return keywords or query


@dataclass(frozen=True)
class Strip:
    """A sentence strip of a retrieved chunk: offsets are within the chunk's text."""

    chunk_id: int
    rank: int
    start: int
    end: int
    text: str

    def to_dict(self, score: float) -> dict[str, Any]:
        """JSON-able form with its score, for the trace."""
        return {"chunk_id": self.chunk_id, "start": self.start, "end": self.end,
                "score": round(score, 4), "text": self.text}


def decompose(chunks: Sequence[tuple[int, str]], *, min_chars: int = 3) -> list[Strip]:
    """Split each (chunk id, text), in rank order, into sentence strips."""
    return [Strip(cid, rank, s, e, text[s:e])
            for rank, (cid, text) in enumerate(chunks)
            for s, e in split_sentences(text) if e - s >= min_chars]


def recompose(strips: Sequence[Strip], scores: Sequence[float], *, threshold: float,
              ) -> list[tuple[Strip, float]]:
    """Keep the strips scoring at least `threshold`, in document order.

    Document order: chunks in their retrieval rank, strips in their order in the chunk,
    whatever their scores (CRAG's decompose-then-recompose keeps the text readable).

    Raises:
        ValueError: when strips and scores differ in length.
    """
    if len(strips) != len(scores):
        raise ValueError(f"{len(strips)} strips for {len(scores)} scores")
    kept = [(s, float(x)) for s, x in zip(strips, scores, strict=True) if x >= threshold]
    return sorted(kept, key=lambda item: (item[0].rank, item[0].start))


def strip_scores(similarity: Sequence[float], overlap: Sequence[float]) -> list[float]:
    """A strip's relevance: 0.7 x cosine to the question + 0.3 x question-term overlap."""
    return [0.7 * s + 0.3 * o for s, o in zip(similarity, overlap, strict=True)]


def grading_prompt(question: str, passages: Sequence[str]) -> str:
    """The LLM evaluator's prompt: one relevance grade in [0, 1] per passage."""
    listed = "\n".join(f"[{n}] {p[:1500]}" for n, p in enumerate(passages, start=1))
    return ("Grade how well each passage helps answer the question, from 0 (irrelevant) to "
            "1 (contains the answer or a needed fact). Reply with JSON: "
            '{"grades": [one number per passage, in order]}.\n'
            f"Question: {question}\nPassages:\n{listed}")


def llm_grades(generator: JSONGenerator, question: str, passages: Sequence[str]) -> list[float]:
    """Relevance grades from an LLM (CRAG's evaluator, as a graded judgement).

    Raises:
        GradingError: when the reply is not one number in [0, 1] per passage.
    """
    reply = generator.generate_json(grading_prompt(question, passages), GRADES_SCHEMA)
    grades = reply.get("grades") if isinstance(reply, dict) else None
    if (not isinstance(grades, list) or len(grades) != len(passages)
            or not all(isinstance(g, int | float) and 0 <= g <= 1 for g in grades)):
        raise GradingError(f"expected {len(passages)} grades in [0, 1], got {reply!r}")
    return [float(g) for g in grades]


def best_candidates(hits: Iterable[tuple[int, float]], limit: int) -> list[tuple[int, float]]:
    """The `limit` best (chunk id, score) pairs, one per chunk, best first."""
    best: dict[int, float] = {}
    for cid, score in hits:
        best[cid] = max(score, best.get(cid, -1.0))
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]
