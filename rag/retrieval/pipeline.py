"""Retrieve -> hydrate -> generate: the path of one question."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from indexes.base import Hit
from rag.generation.answers import Answer, Passage
from rag.retrieval.base import RetrievedPassages, TracingRetriever
from rag.retrieval.crag.decisions import abstention_answer
from rag.storage.store import Store


class AnswerGenerator(Protocol):
    """Turns a question and passages into a cited answer."""

    name: str

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        """A cited answer (or an abstention)."""
        ...


def hydrate(store: Store, hits: Sequence[Hit]) -> list[Passage]:
    """Passages for `hits`, in order; hits whose chunk was deleted are dropped."""
    rows = store.get_chunks([h.chunk_id for h in hits])
    return [
        Passage(r.id, r.document_id, r.title, r.text, r.start, r.end, round(h.score, 6))
        for h in hits
        if (r := rows.get(h.chunk_id)) is not None
    ]


def retrieve(query: str, *, retriever: TracingRetriever, store: Store, k: int,
             ) -> RetrievedPassages:
    """Top `k` passages for `query` and the retrieval trace (with its latency)."""
    started = time.perf_counter()
    result = retriever.retrieve(query, k)
    passages = hydrate(store, result.hits)
    trace = {**result.trace, "top_k": k,
             "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    return RetrievedPassages(passages, trace)


def ask(question: str, *, retriever: TracingRetriever, store: Store, generator: AnswerGenerator,
        k: int) -> Answer:
    """Answer `question` from the top `k` passages, with citations."""
    found = retrieve(question, retriever=retriever, store=store, k=k)
    if found.abstained:  # CRAG graded every candidate Incorrect
        answer = abstention_answer(found.passages, generator.name)
    else:
        answer = generator.answer(question, found.passages)
    answer.retrieval = found.trace
    return answer
