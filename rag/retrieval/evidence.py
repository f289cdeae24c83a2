"""Does the retrieved evidence answer the question? Pure decisions, for every retriever.

Every retriever ranks something for any question, so every answer needs a check that
what was found is about the question. Two signals exist without an LLM:

- `cosine`: the best dense cosine between the question and a top passage (how close the
  closest passage is in meaning);
- `coverage`: the IDF-weighted share of the question's content terms (BM25 terms: stems,
  stopwords dropped, CJK bigrams) that occur in the top passages. A term the corpus has
  never seen weighs most, so "Who won the 2018 FIFA World Cup?" over a corpus about
  volcanoes covers little ("fifa", "cup", "2018" are nowhere). A CJK bigram the corpus
  never holds usually straddles two words (猫吃 in 熊猫吃什么), so it counts by the share
  of its content characters found in the passages instead.

The evidence answers when `coverage + weight x cosine >= score` (3 and 1.8 by default:
fitted on HotpotQA and MuSiQue, each set's thresholds holding on the other), when the
passages hold every content term and are not far in meaning (`cosine`, the floor), or on
meaning alone when `cosine >= strong_cosine` (a paraphrase that shares no word). When it
vouches (every term found, not far), it also overrules CRAG's Incorrect (`vouches`).
Defaults hold out of the box; `ragmem calibrate` refines them per collection (the
`evidence` block of crag.json, `rag.retrieval.crag.calibration.choose_evidence_thresholds`).
`abstention_of` is the one place that reads a trace's abstention (this check's or CRAG's).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rag.generation.answers import NO_ANSWER
from rag.generation.extractive import content_chars

EVIDENCE_KEY = "evidence_check"  # the trace block (not the answer's supporting_text)
# Words a question is made of beyond BM25's stopwords; no passage needs to hold them.
QUESTION_WORDS = frozenset(
    "who whom whose what which when where why how do does did can could would should shall "
    "may might must have has had been being were am i me my mine we us our you your he him "
    "his she her its them".split())
# Han, kana, Hangul (the ranges `indexes.tokenize` cuts into bigrams).
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


@dataclass(frozen=True)
class TermEvidence:
    """One content term of the question: its document frequency in the collection and
    how much of it the top passages hold (1 or 0; a share of characters for an unseen
    CJK bigram)."""

    term: str
    df: int
    found: float


@dataclass(frozen=True)
class EvidenceSignals:
    """What the check measures for one question over its top passages."""

    cosine: float | None  # None without a dense index
    coverage: float | None  # None when the question has no content term
    terms: tuple[TermEvidence, ...] = ()

    def missing(self) -> list[str]:
        """The question's terms the top passages lack, rarest first."""
        lacking = [t for t in self.terms if t.found < 0.5]
        return [t.term for t in sorted(lacking, key=lambda t: (t.df, t.term))]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, for the trace."""
        return {"cosine": None if self.cosine is None else round(self.cosine, 4),
                "coverage": None if self.coverage is None else round(self.coverage, 4),
                "missing_terms": self.missing()[:8]}


_NAMES = ("cosine", "coverage", "weight", "score", "strong_cosine")


@dataclass(frozen=True)
class EvidenceThresholds:
    """When the evidence answers (see the module docstring).

    Attributes:
        cosine: the floor: below it, only a high `score` answers; with every term found,
            at or above it answers.
        coverage: with no dense index, the coverage that answers alone.
        weight: the cosine's weight in `score` (coverage + weight x cosine).
        score: answer at or above this combined score.
        strong_cosine: answer at or above this cosine whatever the coverage (a paraphrase).
    """

    cosine: float = 0.2
    coverage: float = 0.6
    weight: float = 3.0
    score: float = 1.8
    strong_cosine: float = 0.75

    def __post_init__(self) -> None:
        for name in _NAMES:
            value = getattr(self, name)
            top = 1 + self.weight if name == "score" else (10.0 if name == "weight" else 1.0)
            if not isinstance(value, int | float) or not 0 <= value <= top:
                raise ValueError(f"evidence threshold {name} must be in [0, {top:g}], got {value!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, defaults: EvidenceThresholds | None = None,
                     ) -> EvidenceThresholds:
        """Thresholds from a calibration's `evidence` block; absent keys keep `defaults`."""
        base = defaults or cls()
        data = data or {}
        return cls(**{name: float(data.get(name, getattr(base, name))) for name in _NAMES})

    def to_dict(self) -> dict[str, float]:
        """JSON-able form (crag.json's `evidence` block, the trace)."""
        return {name: getattr(self, name) for name in _NAMES}


@dataclass(frozen=True)
class Abstention:
    """Why an answer abstains: which check said so and, in words, why."""

    by: str  # "evidence_check" or "crag"
    reason: str

    def message(self) -> str:
        """The answer text of an abstention: `NO_ANSWER` (what memory and clients know an
        abstention by), then why."""
        return f"{NO_ANSWER} Why: {self.reason}."


def idf(df: int, n: int) -> float:
    """BM25's (Lucene's) inverse document frequency; a term in no document weighs most."""
    df = max(0, min(df, n))
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def is_cjk(term: str) -> bool:
    """Whether a BM25 term is a CJK bigram (or a lone CJK character)."""
    return bool(_CJK_RE.match(term))


def char_share(term: str, passage_chars: set[str]) -> float | None:
    """Share of a CJK term's content characters among `passage_chars`; None when it has
    none (什么 is all question word)."""
    chars = content_chars(term)
    if not chars:
        return None
    return len(chars & passage_chars) / len(chars)


def term_evidence(terms: Sequence[str], df: Mapping[str, int], present: set[str],
                  passage_text: str) -> list[TermEvidence]:
    """Each distinct question term with its df and whether the top passages hold it.

    Args:
        terms: the question's BM25 terms.
        df: document frequency of each term in the collection (absent: 0).
        present: the terms some top passage holds.
        passage_text: the top passages' text (for unseen CJK bigrams; may be "").
    """
    chars = content_chars(passage_text)
    out = []
    for term in dict.fromkeys(terms):
        n = int(df.get(term, 0))
        if n == 0 and is_cjk(term):
            share = char_share(term, chars)
            if share is None:
                continue  # a question word: no content to find
            out.append(TermEvidence(term, 0, share))
        else:
            out.append(TermEvidence(term, n, 1.0 if term in present else 0.0))
    return out


def coverage(terms: Sequence[TermEvidence], n_documents: int) -> float | None:
    """IDF-weighted share of the question's terms the top passages hold (None: no terms)."""
    if not terms:
        return None
    weights = [idf(t.df, n_documents) for t in terms]
    total = sum(weights)
    return sum(w * t.found for w, t in zip(weights, terms, strict=True)) / total if total else None


def decide(signals: EvidenceSignals, thresholds: EvidenceThresholds) -> Abstention | None:
    """None when the evidence answers the question, else the `Abstention` saying why.

    Answers when `coverage + weight x cosine >= score`, when every content term is found
    and `cosine >= cosine`, or when `cosine >= strong_cosine`. With one signal missing
    the other decides alone (coverage against `coverage`; cosine against
    `score / (1 + weight)`); with neither, the answer is not stopped here.
    """
    cos, cov, t = signals.cosine, signals.coverage, thresholds
    if cos is None and cov is None:
        return None
    if cos is not None and cos >= t.strong_cosine:
        return None
    if cos is None:
        if cov >= t.coverage:
            return None
        return Abstention(EVIDENCE_KEY, f"{_held(signals)}, below {t.coverage:.0%}")
    if cov is None:
        floor = t.score / (1 + t.weight)
        if cos >= floor:
            return None
        return Abstention(EVIDENCE_KEY, f"the closest passage is {cos:.2f} similar to the "
                                      f"question, below {floor:.2f}")
    if cov + t.weight * cos >= t.score or (cov >= 0.999 and cos >= t.cosine):
        return None
    return Abstention(EVIDENCE_KEY, f"{_held(signals)} and the closest passage is {cos:.2f} "
                                  f"similar to it: {cov:.2f} + {t.weight:g} x {cos:.2f} = "
                                  f"{cov + t.weight * cos:.2f}, below {t.score:.2f}")


def _held(signals: EvidenceSignals) -> str:
    missing = signals.missing()[:4]
    named = f" ({', '.join(repr(m) for m in missing)} not found)" if missing else ""
    return f"the passages found hold {signals.coverage:.0%} of the question's terms{named}"


def vouches(signals: EvidenceSignals, thresholds: EvidenceThresholds) -> bool:
    """Whether the evidence is strong enough to overrule CRAG's Incorrect: the passages
    hold every content term of the question and are not far from it in meaning. (CRAG's
    offline evaluator leans on the cosine, which a small English embedder gets wrong for
    short and CJK questions: "Where can I park?", 熊猫吃什么.)"""
    return (signals.coverage is not None and signals.coverage >= 0.999
            and decide(signals, thresholds) is None)


def no_passages() -> Abstention:
    """The abstention when retrieval found nothing."""
    return Abstention(EVIDENCE_KEY, "no passage was found")


def abstention_of(trace: Mapping[str, Any]) -> Abstention | None:
    """The abstention a retrieval trace records (CRAG's first, unless the evidence check
    vouches for the passages; then the check's), None when the answer may be written.
    The one reader of both trace blocks."""
    crag = trace.get("crag") or {}
    block = trace.get(EVIDENCE_KEY) or {}
    if crag.get("abstain") and not block.get("vouches"):
        return Abstention("crag", "CRAG graded every passage found Incorrect, before and "
                                  "after a keyword re-search")
    if block.get("abstain"):
        return Abstention(EVIDENCE_KEY, str(block.get("reason") or "the evidence is too weak"))
    return None
