"""`ragmem calibrate DATASET`: fit CRAG's evaluator and thresholds for a collection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rag.cli.common import DataDirOption, JsonOption, cli_errors, console, emit, open_service


def _fit(service: Any, dataset: Any, negatives: list[str], *, answer_rate: float,
         precision: float, limit: int | None) -> dict[str, Any]:
    from eval.runner import passage_ids, prepare_collection
    from rag.retrieval.context import RetrievalContext, save_calibration
    from rag.retrieval.crag.calibration import choose_thresholds, collect
    from rag.retrieval.crag.retriever import build_crag

    collection, _ = prepare_collection(service, dataset)
    live = service.indexes.get(collection)
    context = RetrievalContext(texts=service.store.get_chunks)  # defaults, not the old fit
    crag = build_crag(live.indexes, service.settings.retrieval, context=context)
    chunk_of = {doc: cid for cid, doc in passage_ids(service, collection).items()}
    questions = dataset.questions[:limit] if limit else dataset.questions
    with live.lock:
        positives = [collect(crag, q.question, {chunk_of[g] for g in q.gold_ids if g in chunk_of})
                     for q in questions]
        others = [collect(crag, text, set()) for text in (negatives[:limit] if limit else negatives)]
    calibration = choose_thresholds(positives, others, answer_rate=answer_rate, precision=precision)
    calibration["evidence"] = _fit_evidence(service, collection, questions, negatives[:limit] if limit
                                            else negatives, answer_rate=answer_rate)
    calibration.update(dataset=dataset.name, collection=collection.name)
    path = save_calibration(service.indexes.folder(collection.name), calibration)
    return {**calibration, "path": str(path)}


def _fit_evidence(service: Any, collection: Any, questions: list[Any], negatives: list[str], *,
                  answer_rate: float) -> dict[str, Any]:
    """The evidence check's thresholds, fitted on the signals the default retriever's
    trace records for the set's own questions (and the negatives)."""
    from rag.retrieval.crag.calibration import choose_evidence_thresholds
    from rag.retrieval.evidence import EVIDENCE_KEY, EvidenceSignals, EvidenceThresholds

    evidence = service.settings.retrieval.evidence
    defaults = EvidenceThresholds.from_mapping(evidence.model_dump())

    def signals(text: str) -> EvidenceSignals:
        block = service.retrieve(collection, text).trace.get(EVIDENCE_KEY) or {}
        return EvidenceSignals(block.get("cosine"), block.get("coverage"))

    return choose_evidence_thresholds([signals(q.question) for q in questions],
                                      [signals(t) for t in negatives], defaults,
                                      answer_rate=answer_rate)


def calibrate(
    dataset: Annotated[Path, typer.Argument(help="Labelled multi-hop set: a folder with "
                                                 "questions.json and corpus.json")],
    corpus: Annotated[Path | None, typer.Argument(help="corpus.json (when DATASET is a file)")] = None,
    negatives: Annotated[Path | None, typer.Option(
        "--negatives", help="Questions the corpus cannot answer (JSON/JSONL), to report "
                            "the abstention rate the thresholds give")] = None,
    answer_rate: Annotated[float, typer.Option(help="Share of own questions that must stay "
                                                    "answered")] = 0.95,
    precision: Annotated[float, typer.Option(help="Gold precision above the upper "
                                                  "threshold")] = 0.7,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N questions.")] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit CRAG's evaluator weights and Correct/Incorrect thresholds, and the evidence
    check's thresholds (every retriever's), on a labelled set.

    The result is stored as crag.json in the dataset's benchmark collection folder
    (data_dir/collections/<name>/crag.json), which the `crag` retriever reads.
    """
    from eval.datasets import load_multihop
    from eval.runner import load_question_texts

    with cli_errors():
        service = open_service(data_dir)
        others = load_question_texts(negatives) if negatives else []
        result = _fit(service, load_multihop(dataset, corpus), others, answer_rate=answer_rate,
                      precision=precision, limit=limit)
        emit(result, as_json, lambda r: console.print_json(data=r))
