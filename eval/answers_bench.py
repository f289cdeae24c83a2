"""EM/F1 of answers by question kind, and the published numbers to read them beside.

`ragmem bench multihop --answers` scores each retriever's answers (SQuAD EM/F1, see
eval.metrics); `answer_breakdown` splits them by what the question asks (the reader's
`question_types.analyze`: an entity, a choice between two named options, yes/no, or an
open why/how question), since a choice is a coin toss without evidence and an entity
span is not; `published_reference` names HippoRAG's published reader numbers for the set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eval.datasets import Question
from eval.metrics import exact_match, f1_score, percentile
from rag.generation.question_types import analyze

# HippoRAG (Gutiérrez et al. 2024, arXiv:2405.14831), QA with a GPT-3.5 reader over
# HippoRAG (ColBERTv2) retrieval, top-5 passages.
PUBLISHED = {
    "musique": {"EM": 0.192, "F1": 0.298, "by": "HippoRAG + GPT-3.5 reader"},
    "2wiki": {"EM": 0.466, "F1": 0.595, "by": "HippoRAG + GPT-3.5 reader"},
}


def published_reference(dataset: str) -> dict[str, Any] | None:
    """HippoRAG's published EM/F1 for a dataset named like MuSiQue or 2Wiki, else None."""
    name = dataset.lower()
    return next((dict(v) for k, v in PUBLISHED.items() if k in name), None)


def answer_breakdown(questions: Sequence[Question], rows: Sequence[dict[str, Any]],
                     ) -> dict[str, Any]:
    """EM/F1 and question counts per kind ("EM_choice", "F1_choice", "n_choice", ...).

    Args:
        questions: the questions, in the order of `rows`.
        rows: one row per question with `prediction` (the answer text); with
            `latency_ms` and `answer_ms` in every row, also `ask_ms_p50`/`ask_ms_p95`
            (retrieval + answer) and `answer_ms_p50`.

    Raises:
        ValueError: the two differ in length, or a row has no prediction.
    """
    if len(questions) != len(rows):
        raise ValueError(f"{len(questions)} questions but {len(rows)} rows")
    kinds: dict[str, list[tuple[float, float]]] = {}
    for question, row in zip(questions, rows, strict=True):
        if row.get("prediction") is None:
            raise ValueError(f"question {question.id!r} has no prediction")
        kinds.setdefault(analyze(question.question).kind, []).append(
            (exact_match(row["prediction"], question.answers),
             f1_score(row["prediction"], question.answers)))
    out: dict[str, Any] = {}
    # An ask's latency: the retrieval plus the answer read from its hits, per question.
    if all("latency_ms" in r and "answer_ms" in r for r in rows) and rows:
        asks = [float(r["latency_ms"]) + float(r["answer_ms"]) for r in rows]
        out["ask_ms_p50"] = round(percentile(asks, 50), 3)
        out["ask_ms_p95"] = round(percentile(asks, 95), 3)
        out["answer_ms_p50"] = round(percentile([float(r["answer_ms"]) for r in rows], 50), 3)
    for kind, scores in sorted(kinds.items()):
        out[f"EM_{kind}"] = round(sum(s[0] for s in scores) / len(scores), 4)
        out[f"F1_{kind}"] = round(sum(s[1] for s in scores) / len(scores), 4)
        out[f"n_{kind}"] = len(scores)
    return out
