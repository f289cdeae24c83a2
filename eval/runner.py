"""Benchmark runner: ingest a dataset into a cached collection, run retrievers, score them.

The collection is named after the corpus hash and the embedder, so a rerun on the same
corpus reuses the stored vectors instead of embedding again. One passage is one chunk,
indexed as `title\\ntext`. Evaluation calls only the public retrieval functions.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.answers_bench import answer_breakdown, published_reference
from eval.datasets import Dataset, Question
from eval.metrics import summarize
from rag.retrieval.pipeline import hydrate
from rag.service.core import RagService
from rag.storage.store import CollectionRow, NewDocument

Progress = Callable[[str, int, int], None]
CITATION_RE = re.compile(r"\s*\[\d+\]")


def collection_name(dataset: Dataset, embedder: str) -> str:
    """The cached benchmark collection for a corpus and an embedder."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", embedder.rsplit("/", 1)[-1]).strip("-")[:24]
    return f"bench-{dataset.corpus_hash()[:16]}-{slug}"


def _passage_documents(dataset: Dataset) -> list[NewDocument]:
    docs = []
    for p in dataset.passages:
        # The id is part of the hash: a corpus may repeat a passage under two ids.
        digest = hashlib.sha256(f"{p.id}\x00{p.title}\x00{p.text}".encode()).hexdigest()
        docs.append(NewDocument(text=p.text, title=p.title, source=dataset.name, metadata={},
                                content_hash=digest, spans=[(0, len(p.text))], external_id=p.id))
    return docs


def prepare_collection(service: RagService, dataset: Dataset, *,
                       progress: Progress | None = None) -> tuple[CollectionRow, dict[str, Any]]:
    """Ingest the corpus into its cached collection (or reuse it) and index it.

    Returns:
        The collection and ingestion facts: whether it was cached, passages, seconds,
        passages per second.
    """
    name = collection_name(dataset, service.embedder.name)
    collection = service.collection(name, create=True)
    stored = {c["name"]: c for c in service.store.list_collections()}[name]["documents"]
    started = time.perf_counter()
    cached = stored == len(dataset.passages)
    if not cached:
        docs = _passage_documents(dataset)
        for start in range(0, len(docs), 5000):
            service.store.add_documents(collection, docs[start:start + 5000])
            if progress:
                progress("storing", min(start + 5000, len(docs)), len(docs))
    job = service.store.create_job(collection, kind="index", total=len(dataset.passages))
    report = (lambda done, total: progress("indexing", done, total)) if progress else None
    service.run_job(job, report)
    seconds = time.perf_counter() - started
    facts = {"collection": name, "cached": cached, "passages": len(dataset.passages),
             "ingest_s": round(seconds, 2)}
    if not cached:
        facts["passages_per_s"] = round(len(dataset.passages) / seconds, 2)
    return collection, facts


def use_openie(service: RagService, openie: str | Path | None) -> None:
    """With ``"offline"``, graphs take the offline extractor's triples even where imported
    ones are cached. Call it before the collection is first loaded: a saved graph built
    from other sources is then dropped and rebuilt."""
    if openie == "offline":
        service.indexes.graph = service.indexes.graph.model_copy(update={"prefer_sources": []})


def prepare_graph(service: RagService, collection: CollectionRow, *,
                  openie: str | Path | None = None,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Build the collection's knowledge graph, or reuse it when its triples are current.

    Args:
        openie: a HippoRAG OpenIE file to import for the corpus first; ``"offline"`` to
            take the offline extractor's triples even where imported ones are cached; None
            for the settings (imported triples first). A graph built from other triples
            than these is rebuilt.

    Returns:
        `openie`, `import` (matched/unmatched counts, with a file), `built` (in this run),
        the build's times when built (`openie_s`, `openie_passages_per_s` for fresh
        extractions, `graph_s`, `graph_passages_per_s`, ...) and the graph's `stats`.
    """
    info: dict[str, Any] = {"openie": str(openie) if openie is not None else "settings"}
    use_openie(service, openie)  # (a no-op when `run_benchmark` already applied it)
    if openie not in (None, "offline"):
        info["import"] = service.indexes.import_openie(collection, Path(openie), build=False)
    before = service.indexes.get(collection).kg
    report = (lambda done, total: progress("graph", done, total)) if progress else None
    kg = service.indexes.build_kg(collection, report)
    info["built"] = kg is not before
    if info["built"]:
        info.update(kg.build_info)
    info["stats"] = kg.stats()
    return info


def passage_ids(service: RagService, collection: CollectionRow) -> dict[int, str]:
    """Chunk id -> the dataset passage id (document id) it was cut from."""
    return service.store.chunk_document_ids(collection)


def answer_text(service: RagService, question: str, hits: Sequence[Any], *, k: int = 5) -> str:
    """The configured generator's answer from the top `k` hits, citation markers removed."""
    answer = service.generator.answer(question, hydrate(service.store, list(hits)[:k]))
    return "" if answer.abstained else CITATION_RE.sub("", answer.answer).strip()


def run_retriever(service: RagService, collection: CollectionRow, name: str,
                  questions: Sequence[Question], *, depth: int,
                  progress: Progress | None = None, answers: bool = False) -> list[dict[str, Any]]:
    """Rank passages for every question with one retriever; one row per question.

    With `answers`, each row also holds the generator's answer for EM/F1 (timed apart
    from retrieval).
    """
    retriever = service.retriever(collection, name)
    passage_of = passage_ids(service, collection)
    rows = []
    for n, question in enumerate(questions, start=1):
        started = time.perf_counter()
        result = retriever.retrieve(question.question, depth)
        latency = (time.perf_counter() - started) * 1000
        hits = result.hits
        row: dict[str, Any] = {
            "ranked_ids": [passage_of[h.chunk_id] for h in hits if h.chunk_id in passage_of],
            "gold_ids": list(question.gold_ids), "latency_ms": latency,
            "abstained": abstained(result.trace)}
        if question.relevance is not None:
            row["relevance"] = dict(question.relevance)
        if answers:
            started = time.perf_counter()
            row["prediction"] = answer_text(service, question.question, hits)
            row["answer_ms"] = (time.perf_counter() - started) * 1000  # ask = retrieve + this
            row["answers"] = list(question.answers)
        rows.append(row)
        if progress:
            progress(name, n, len(questions))
    return rows


def run_benchmark(service: RagService, dataset: Dataset, retrievers: Sequence[str], *,
                  ks: Sequence[int] = (1, 2, 5, 10), limit: int | None = None,
                  progress: Progress | None = None,
                  other_questions: Sequence[str] | None = None,
                  answers: bool = False, openie: str | Path | None = None) -> dict[str, Any]:
    """Run every retriever over the dataset's questions.

    With `other_questions` (questions the corpus cannot answer), each retriever's result
    also holds `answered_own` and `abstained_other` (see `abstention_rates`). When
    `hipporag` runs, the graph is prepared first (`prepare_graph`, with `openie`) and
    `meta.kg` reports its triples' sources and build times.

    Returns:
        `{"dataset", "n_questions", "n_passages", "results": {retriever: metrics}, "meta"}`.
    """
    if not retrievers:
        raise ValueError("name at least one retriever")
    use_openie(service, openie)
    for name in retrievers:  # fail before the long ingestion, not after it
        if name != "hipporag":  # (its graph is built after the ingestion, and timed)
            service.retriever(service.collection(collection_name(dataset, service.embedder.name),
                                                 create=True), name)
    collection, facts = prepare_collection(service, dataset, progress=progress)
    if "hipporag" in retrievers:
        facts["kg"] = prepare_graph(service, collection, openie=openie, progress=progress)
    questions = dataset.questions[:limit] if limit else dataset.questions
    depth = max(max(ks), 10)
    results = {}
    for name in retrievers:
        rows = run_retriever(service, collection, name, questions, depth=depth, progress=progress,
                             answers=answers)
        results[name] = {k: round(v, 4) for k, v in summarize(rows, ks).items()}
        if answers:  # EM/F1 per question kind (entity, choice, yesno, open)
            results[name].update(answer_breakdown(questions, rows))
        if other_questions is not None:
            results[name].update(abstention_rates(service, collection, name, rows,
                                                  other_questions[:limit] if limit else other_questions,
                                                  depth=depth, progress=progress))
    if answers and published_reference(dataset.name):
        facts["published_answers"] = published_reference(dataset.name)
    return {"dataset": dataset.name, "kind": dataset.kind, "n_questions": len(questions),
            "n_passages": len(dataset.passages), "results": results,
            "meta": {"embedder": service.embedder.name, "ks": list(ks), **facts}}


# -- abstention (`--negatives OTHER_QUESTIONS.json`) ----------------------------------------
def abstained(trace: dict[str, Any]) -> bool:
    """Whether a retrieval trace says to abstain (the evidence check's or CRAG's verdict)."""
    from rag.retrieval.evidence import abstention_of

    return abstention_of(trace) is not None


def load_question_texts(path: str | Path) -> list[str]:
    """Question texts from a questions file: JSON (a list of strings or of records with
    `question` or `text`) or JSON Lines (records with `question` or `text`, e.g. BEIR queries).

    Raises:
        FileNotFoundError: when the file does not exist.
        InvalidInputError: when a record has no question text.
    """
    from rag.errors import InvalidInputError

    path = Path(path)
    raw = path.read_text(encoding="utf-8")
    try:
        records = json.loads(raw) if path.suffix != ".jsonl" else None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path}: invalid JSON ({exc})") from exc
    if records is None:
        records = [json.loads(line) for line in raw.splitlines() if line.strip()]
    texts = []
    for n, record in enumerate(records if isinstance(records, list) else []):
        text = record if isinstance(record, str) else (
            record.get("question") or record.get("text") if isinstance(record, dict) else None)
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"{path}: record {n} has no 'question' or 'text'")
        texts.append(text)
    if not texts:
        raise InvalidInputError(f"{path}: no questions")
    return texts


def abstention_rates(service: RagService, collection: CollectionRow, name: str,
                     own_rows: Sequence[dict[str, Any]], other: Sequence[str], *, depth: int,
                     progress: Progress | None = None) -> dict[str, Any]:
    """How often a retriever answers the collection's own questions and abstains on others.

    Returns:
        `answered_own` (share of own questions not abstained), `abstained_other` (share of
        the other questions abstained) and `n_other`.
    """
    retriever = service.retriever(collection, name)
    flags = []
    for n, text in enumerate(other, start=1):
        flags.append(abstained(retriever.retrieve(text, depth).trace))
        if progress:
            progress(f"{name} (other questions)", n, len(other))
    answered = 1 - sum(bool(r.get("abstained")) for r in own_rows) / max(1, len(own_rows))
    return {"answered_own": round(answered, 4),
            "abstained_other": round(sum(flags) / max(1, len(flags)), 4), "n_other": len(other)}
