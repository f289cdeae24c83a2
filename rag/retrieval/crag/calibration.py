"""Fitting CRAG's offline evaluator and its two thresholds on a labelled question set.

CRAG (Yan et al., 2024) fine-tunes a T5 evaluator and picks its Correct/Incorrect
thresholds per dataset. We fit the weights of a logistic evaluator (dense cosine, BM25 per
query term, entity overlap) on the chunks the retriever grades, labelled by whether they
are gold, and pick:

- `lower` (Incorrect below): the largest threshold at which at least `answer_rate` of the
  collection's own questions keep a graded chunk at or above it, i.e. are answered;
- `upper` (Correct above): the smallest threshold above which graded chunks are gold with
  at least `precision`.

The evidence check that guards every answer is calibrated here too
(`choose_evidence_thresholds`, crag.json's `evidence` block).

`fit_logistic`, `choose_thresholds` and `choose_evidence_thresholds` are pure; `collect`
runs the retriever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rag.retrieval.crag.decisions import FEATURES
from rag.retrieval.evidence import EvidenceSignals, EvidenceThresholds, decide

Progress = Callable[[str, int, int], None]


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, iterations: int = 50,
                 ) -> tuple[np.ndarray, float]:
    """L2-regularized logistic regression by Newton's method (IRLS).

    Args:
        x: (n, f) features.
        y: (n,) labels in {0, 1}.
        l2: ridge on the weights (not the bias).
        iterations: Newton steps at most (stops when the step is tiny).

    Returns:
        (weights of shape (f,), bias).

    Raises:
        ValueError: on mismatched shapes or when only one class is present.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"need x of shape (n, f) and y of shape (n,), got {x.shape} and {y.shape}")
    if len(set(y.tolist())) < 2:
        raise ValueError("need both relevant and irrelevant examples to fit the evaluator")
    design = np.hstack([x, np.ones((len(x), 1))])
    theta = np.zeros(design.shape[1])
    ridge = np.full(design.shape[1], l2)
    ridge[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -50, 50)))
        gradient = design.T @ (p - y) + ridge * theta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(ridge) + 1e-9 * np.eye(len(theta))
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def lower_threshold(best_scores: Sequence[float], *, answer_rate: float) -> float:
    """Largest t with at least `answer_rate` of questions' best score >= t.

    Raises:
        ValueError: on no scores or a rate outside (0, 1].
    """
    if not best_scores:
        raise ValueError("no questions to calibrate on")
    if not 0 < answer_rate <= 1:
        raise ValueError(f"answer_rate must be in (0, 1], got {answer_rate!r}")
    ordered = sorted(best_scores, reverse=True)
    needed = int(np.ceil(answer_rate * len(ordered)))
    return float(ordered[needed - 1])


def upper_threshold(scores: Sequence[float], labels: Sequence[int], *, precision: float,
                    floor: float) -> float:
    """Smallest t >= `floor` such that chunks scoring above t are gold with `precision`.

    Returns 1.0 (never Correct) when no threshold reaches the precision.
    """
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    best = 1.0
    hits = 0
    for n, (score, label) in enumerate(pairs, start=1):
        hits += int(label)
        if hits / n >= precision and score >= floor:
            best = float(score)
    return max(floor, min(1.0, best - 1e-6))


def rate_below(scores: Sequence[float], threshold: float) -> float:
    """Share of `scores` strictly below `threshold` (the abstention rate)."""
    return float(np.mean([s < threshold for s in scores])) if scores else 0.0


@dataclass
class Sample:
    """What calibration needs from one question: its graded chunks' features and labels."""

    features: list[dict[str, float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)


def matrix(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """Stack samples into (features, labels) arrays in `FEATURES` order."""
    rows = [[f[n] for n in FEATURES] for s in samples for f in s.features]
    labels = [lab for s in samples for lab in s.labels]
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES)), np.asarray(labels)


def best_scores(samples: Sequence[Sample], weights: np.ndarray, bias: float) -> list[float]:
    """Each question's best evaluator probability under (weights, bias)."""
    out = []
    for sample in samples:
        x, _ = matrix([sample])
        out.append(float((1 / (1 + np.exp(-(x @ weights + bias)))).max()) if len(x) else 0.0)
    return out


def choose_thresholds(positives: Sequence[Sample], negatives: Sequence[Sample], *,
                      answer_rate: float = 0.95, precision: float = 0.7) -> dict[str, Any]:
    """Fit the evaluator and both thresholds; report the rates they give (pure).

    Args:
        positives: the collection's own questions (labels: gold or not).
        negatives: questions the collection cannot answer (may be empty; reported only).
        answer_rate: share of positives that must stay answered.
        precision: gold precision required above `upper`.

    Returns:
        The calibration: weights, bias, upper, lower, and the measured rates.
    """
    x, y = matrix(positives)
    weights, bias = fit_logistic(x, y)
    pos_best = best_scores(positives, weights, bias)
    lower = lower_threshold(pos_best, answer_rate=answer_rate)
    scores = (1 / (1 + np.exp(-(x @ weights + bias)))).tolist()
    upper = upper_threshold(scores, y.tolist(), precision=precision, floor=lower)
    neg_best = best_scores(negatives, weights, bias)
    return {"weights": {n: round(float(w), 6) for n, w in zip(FEATURES, weights, strict=True)},
            "bias": round(bias, 6), "upper": round(upper, 6), "lower": round(lower, 6),
            "fit": {"questions": len(positives), "chunks": len(y), "gold_chunks": int(y.sum()),
                    "answered": round(1 - rate_below(pos_best, lower), 4),
                    "negatives": len(negatives),
                    "negatives_abstained": round(rate_below(neg_best, lower), 4) if negatives else None,
                    "answer_rate_target": answer_rate, "precision_target": precision}}


def collect(crag: Any, query: str, gold: set[int]) -> Sample:
    """Run CRAG's retrieval steps for `query` and label every chunk it would grade.

    Both the base ranking and the keyword re-search are graded (the abstention decision
    looks at both), so the re-search always runs here.

    Args:
        crag: a `rag.retrieval.crag.retriever.CragRetriever`.
        query: the question.
        gold: its gold chunk ids (empty for a question the collection cannot answer).
    """
    depth = crag.settings.graded
    base = crag.base.retrieve(query, depth).hits[:depth]
    _, _, fresh = crag.research(query, base, depth)
    ids = [h.chunk_id for h in [*base, *fresh]]
    features = crag.features(query, ids, qvec=crag.query_vector(query))
    return Sample(features, [int(i in gold) for i in ids])


# -- the evidence check (`rag.retrieval.evidence`) ---------------------------------------------
def evidence_rates(own: Sequence[EvidenceSignals], other: Sequence[EvidenceSignals],
                   thresholds: EvidenceThresholds) -> tuple[float, float | None]:
    """(share of own questions answered, share of other questions abstained) under
    `thresholds` (pure)."""
    answered = float(np.mean([decide(s, thresholds) is None for s in own])) if own else 0.0
    abstained = (float(np.mean([decide(s, thresholds) is not None for s in other]))
                 if other else None)
    return answered, abstained


def choose_evidence_thresholds(own: Sequence[EvidenceSignals], other: Sequence[EvidenceSignals],
                               defaults: EvidenceThresholds, *, answer_rate: float = 0.95,
                               ) -> dict[str, Any]:
    """The evidence check's `score` threshold for one collection (pure; the other
    thresholds keep `defaults`).

    Every candidate (0 to 1 + weight, in steps of 0.02) keeps at least `answer_rate` of
    the collection's own questions answered. With questions it cannot answer (`other`),
    the one abstaining on most of them wins (ties: the closest to the default); without,
    the largest, as CRAG's `lower` is chosen.

    Raises:
        ValueError: on no own questions or a rate outside (0, 1].
    """
    if not own:
        raise ValueError("no questions to calibrate on")
    if not 0 < answer_rate <= 1:
        raise ValueError(f"answer_rate must be in (0, 1], got {answer_rate!r}")
    top = int((1 + defaults.weight) * 50)
    best, key = replace(defaults, score=0.0), None
    for step in range(top + 1):
        candidate = replace(defaults, score=round(step / 50, 4))
        answered, abstained = evidence_rates(own, other, candidate)
        if answered < answer_rate:
            continue
        rank = (abstained, -abs(candidate.score - defaults.score)) if other else (candidate.score,)
        if key is None or rank > key:
            best, key = candidate, rank
    answered, abstained = evidence_rates(own, other, best)
    return {**best.to_dict(), "fit": {"questions": len(own), "answered": round(answered, 4),
                                      "negatives": len(other),
                                      "negatives_abstained": None if abstained is None else round(abstained, 4),
                                      "answer_rate_target": answer_rate}}
