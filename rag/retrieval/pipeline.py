"""Retrieve -> hydrate -> generate: the path of one question."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from indexes.base import Hit
from rag.generation.answers import Answer, AnswerEvent, Passage
from rag.generation.llm_answer import answer_events
from rag.retrieval.base import RetrievedPassages, TracingRetriever
from rag.retrieval.evidence import Abstention
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


def abstention_answer(abstention: Abstention, generator: str) -> Answer:
    """The answer of an abstention: says so and why; no citations (the passages found,
    which do not answer, stay in the trace)."""
    return Answer(abstention.message(), [], True, generator)


def answer_found(question: str, found: RetrievedPassages, generator: AnswerGenerator) -> Answer:
    """The answer from what `retrieve` found: an abstention when the evidence check (or
    CRAG) says the passages do not answer, else the generator's (which may abstain too)."""
    abstention = found.abstention
    if abstention is not None:
        answer = abstention_answer(abstention, generator.name)
    else:
        answer = generator.answer(question, found.passages)
    answer.retrieval = found.trace
    return answer


def stream_found(answerer: object, question: str, found: RetrievedPassages,
                 ) -> Iterator[AnswerEvent]:
    """`answer_found` as a stream of `AnswerEvent`s (an abstention comes as one piece)."""
    abstention = found.abstention
    if abstention is None:
        yield from answer_events(answerer, question, found.passages, found.trace)
        return
    answer = abstention_answer(abstention, str(getattr(answerer, "name", "extractive")))
    answer.retrieval = found.trace
    yield AnswerEvent(answer.answer)
    yield AnswerEvent(answer=answer)


def ask(question: str, *, retriever: TracingRetriever, store: Store, generator: AnswerGenerator,
        k: int) -> Answer:
    """Answer `question` from the top `k` passages, with citations (or abstain)."""
    return answer_found(question, retrieve(question, retriever=retriever, store=store, k=k),
                        generator)
