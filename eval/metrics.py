"""Retrieval and answer metrics, as pure functions.

Definitions:

* Recall@k and AR@k follow HippoRAG (Gutiérrez et al., 2024, arXiv:2405.14831): Recall@k
  is the fraction of a question's distinct gold passages in the top k; AR@k ("all
  recall") is 1 when every gold passage is in the top k, else 0.
* nDCG@k follows BEIR (Thakur et al., 2021, arXiv:2104.08663), which computes it with
  pytrec_eval / trec_eval ``ndcg_cut``: gain = graded relevance, discount
  ``log2(rank + 1)`` for 1-based ranks, ideal DCG from the judged relevances sorted in
  decreasing order and cut at k.
* MRR@k: the reciprocal 1-based rank of the first relevant passage in the top k, else 0.
* Exact match and F1 follow the SQuAD v1.1 evaluation script (Rajpurkar et al., 2016,
  arXiv:1606.05250): answers are lower-cased and stripped of punctuation, the articles
  a/an/the and extra whitespace; the score is the maximum over the gold answers.

A ranked list is de-duplicated (first occurrence kept) before it is cut at k, as a
pytrec_eval run (a dict) would be.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TypedDict

__all__ = [
    "QuestionRow",
    "all_recall_at_k",
    "exact_match",
    "f1_score",
    "mrr_at_k",
    "ndcg_at_k",
    "normalize_answer",
    "percentile",
    "recall_at_k",
    "summarize",
]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


class QuestionRow(TypedDict, total=False):
    """One question's outcome for :func:`summarize`; every key is optional.

    Keys: ``ranked_ids`` (retrieved ids, best first), ``gold_ids`` (relevant ids),
    ``relevance`` (graded judgements, for nDCG), ``latency_ms`` (retrieval time),
    ``prediction`` (generated answer) and ``answers`` (gold answers, for EM/F1).
    """

    ranked_ids: Sequence[str]
    gold_ids: Sequence[str]
    relevance: Mapping[str, int] | None
    latency_ms: float | None
    prediction: str | None
    answers: Sequence[str]


def _check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _top_k(ranked_ids: Iterable[str], k: int) -> list[str]:
    """Return the first k distinct ids, in order."""
    _check_k(k)
    out: list[str] = []
    seen: set[str] = set()
    for doc in ranked_ids:
        if doc not in seen:
            seen.add(doc)
            out.append(doc)
            if len(out) == k:
                break
    return out


def _gold_set(gold_ids: Iterable[str] | Mapping[str, int]) -> set[str]:
    if isinstance(gold_ids, Mapping):
        gold = {doc for doc, rel in gold_ids.items() if rel > 0}
    else:
        gold = set(gold_ids)
    if not gold:
        raise ValueError("gold_ids is empty: the metric is undefined without a relevant passage")
    return gold


def recall_at_k(ranked_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """Fraction of the distinct gold passages found in the top k (HippoRAG Recall@k).

    Args:
        ranked_ids: Retrieved passage ids, best first.
        gold_ids: The relevant passage ids (repeats count once).
        k: The cut-off, at least 1.

    Returns:
        A value in [0, 1].

    Raises:
        ValueError: ``k`` is not a positive integer or ``gold_ids`` is empty.
    """
    gold = _gold_set(gold_ids)
    return len(gold.intersection(_top_k(ranked_ids, k))) / len(gold)


def all_recall_at_k(ranked_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """1.0 when every gold passage is in the top k, else 0.0 (HippoRAG AR@k).

    Args:
        ranked_ids: Retrieved passage ids, best first.
        gold_ids: The relevant passage ids.
        k: The cut-off, at least 1.

    Returns:
        1.0 or 0.0.

    Raises:
        ValueError: ``k`` is not a positive integer or ``gold_ids`` is empty.
    """
    gold = _gold_set(gold_ids)
    return 1.0 if gold.issubset(_top_k(ranked_ids, k)) else 0.0


def ndcg_at_k(ranked_ids: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """Normalized discounted cumulative gain at k, as BEIR computes it with pytrec_eval.

    ``DCG@k = sum(rel_i / log2(i + 1))`` over 1-based ranks i <= k (unjudged = 0,
    negative judgements count as 0); the ideal DCG sorts all judged relevances in
    decreasing order and cuts at k.

    Args:
        ranked_ids: Retrieved passage ids, best first.
        relevance: Graded judgements, passage id -> relevance.
        k: The cut-off, at least 1.

    Returns:
        A value in [0, 1]; 0.0 when no passage has a positive judgement.

    Raises:
        ValueError: ``k`` is not a positive integer.
    """
    top = _top_k(ranked_ids, k)
    dcg = sum(max(relevance.get(doc, 0), 0) / math.log2(i + 2) for i, doc in enumerate(top))
    ideal = sorted((max(rel, 0) for rel in relevance.values()), reverse=True)[:k]
    idcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at_k(
    ranked_ids: Sequence[str], gold_ids: Iterable[str] | Mapping[str, int], k: int = 10
) -> float:
    """Reciprocal rank of the first relevant passage within the top k, else 0.

    Args:
        ranked_ids: Retrieved passage ids, best first.
        gold_ids: The relevant ids, or graded judgements (relevance > 0 counts).
        k: The cut-off, at least 1.

    Returns:
        ``1 / rank`` (1-based) or 0.0.

    Raises:
        ValueError: ``k`` is not a positive integer or there is no relevant id.
    """
    gold = _gold_set(gold_ids)
    for rank, doc in enumerate(_top_k(ranked_ids, k), start=1):
        if doc in gold:
            return 1.0 / rank
    return 0.0


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalization: lower-case, drop punctuation, articles and extra spaces.

    Args:
        text: An answer string.

    Returns:
        The normalized string.
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _as_answers(answers: str | Iterable[str]) -> list[str]:
    out = [answers] if isinstance(answers, str) else list(answers)
    if not out:
        raise ValueError("answers is empty: EM/F1 need at least one gold answer")
    return out


def exact_match(prediction: str, answers: str | Iterable[str]) -> float:
    """SQuAD exact match: 1.0 if the normalized prediction equals any normalized answer.

    Args:
        prediction: The predicted answer.
        answers: One gold answer or several (aliases).

    Returns:
        1.0 or 0.0.

    Raises:
        ValueError: ``answers`` is empty.
    """
    pred = normalize_answer(prediction)
    return max(float(pred == normalize_answer(a)) for a in _as_answers(answers))


def _token_f1(prediction: str, answer: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, answers: str | Iterable[str]) -> float:
    """SQuAD token F1 between normalized prediction and answer, maximized over answers.

    When either side normalizes to no tokens the score is 1.0 if both do, else 0.0
    (the SQuAD v2.0 convention; v1.1 would divide by zero).

    Args:
        prediction: The predicted answer.
        answers: One gold answer or several (aliases).

    Returns:
        A value in [0, 1].

    Raises:
        ValueError: ``answers`` is empty.
    """
    return max(_token_f1(prediction, a) for a in _as_answers(answers))


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile with linear interpolation (numpy's default ``method="linear"``).

    Args:
        values: The sample; at least one value.
        q: The percentile, in [0, 100].

    Returns:
        ``v[lo] + (v[hi] - v[lo]) * frac`` where ``pos = (n - 1) * q / 100`` over the
        sorted values.

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside [0, 100].
    """
    data = sorted(float(v) for v in values)
    if not data:
        raise ValueError("percentile of an empty sample is undefined")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    pos = (len(data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def _present(rows: Sequence[QuestionRow], key: str) -> bool:
    """True when every row has a non-None ``key``; False when none has; else an error."""
    count = sum(1 for row in rows if row.get(key) is not None)
    if 0 < count < len(rows):
        raise ValueError(f"{key!r} is set in {count} of {len(rows)} rows: set it in all or none")
    return count == len(rows)


def _mean(values: Iterable[float]) -> float:
    data = list(values)
    return sum(data) / len(data)


def summarize(
    rows: Sequence[QuestionRow],
    ks: Sequence[int] = (1, 2, 5, 10),
    *,
    ndcg_k: int = 10,
    mrr_k: int = 10,
) -> dict[str, float]:
    """Average per-question metrics into one result row.

    Metrics that apply (their inputs set in every row) are reported: ``R@k`` and
    ``AR@k`` for each k (``gold_ids``), ``nDCG@10`` and ``MRR@10`` (``relevance``, i.e.
    graded judgements as in BEIR), ``EM`` and ``F1`` (``prediction`` and ``answers``),
    ``latency_ms_p50``, ``latency_ms_p95`` and ``latency_ms_mean`` (``latency_ms``).

    Args:
        rows: One :class:`QuestionRow` per question.
        ks: The cut-offs for R@k and AR@k.
        ndcg_k: The nDCG cut-off.
        mrr_k: The MRR cut-off.

    Returns:
        Metric name -> value, in the order listed above.

    Raises:
        ValueError: ``rows`` is empty, a key is set in some rows only, or a metric's
            input is invalid.
    """
    if not rows:
        raise ValueError("summarize needs at least one row")
    out: dict[str, float] = {}
    if _present(rows, "gold_ids"):
        for k in ks:
            out[f"R@{k}"] = _mean(recall_at_k(r["ranked_ids"], r["gold_ids"], k) for r in rows)
        for k in ks:
            out[f"AR@{k}"] = _mean(all_recall_at_k(r["ranked_ids"], r["gold_ids"], k) for r in rows)
    if _present(rows, "relevance"):
        out[f"nDCG@{ndcg_k}"] = _mean(
            ndcg_at_k(r["ranked_ids"], r["relevance"], ndcg_k) for r in rows
        )
        out[f"MRR@{mrr_k}"] = _mean(mrr_at_k(r["ranked_ids"], r["relevance"], mrr_k) for r in rows)
    if _present(rows, "prediction"):
        out["EM"] = _mean(exact_match(r["prediction"], r["answers"]) for r in rows)
        out["F1"] = _mean(f1_score(r["prediction"], r["answers"]) for r in rows)
    if _present(rows, "latency_ms"):
        latencies = [float(r["latency_ms"]) for r in rows]
        out["latency_ms_p50"] = percentile(latencies, 50)
        out["latency_ms_p95"] = percentile(latencies, 95)
        out["latency_ms_mean"] = _mean(latencies)
    return out
