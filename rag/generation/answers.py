"""The values that flow from retrieval to an answer: passages, citations, answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, hydrated from the store, as handed to a generator.

    `start`/`end` are char offsets of `text` in its document.
    """

    chunk_id: int
    document_id: str
    title: str
    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


@dataclass(frozen=True)
class Citation(Passage):
    """The span of a document that supports part of an answer (a sentence or a passage)."""


@dataclass
class Answer:
    """What `ask` returns (HTTP and `ragmem ask --json` print `to_dict()`)."""

    answer: str
    citations: list[Citation]
    abstained: bool
    generator: str
    retrieval: dict[str, Any] = field(default_factory=dict)
    # While documents of the collection wait to be indexed (and cannot be found yet):
    # {"pending_documents": n, "jobs": [job ids]}; None when everything is searchable.
    indexing: dict[str, Any] | None = None
    # The extractive generator's cited sentences ("S1 [1] S2 [2]") when `answer` is the
    # short span read from them ("Cork [1]"); None otherwise (the answer is the sentences,
    # or an LLM's text).
    supporting_text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (with `indexing` only while documents are pending, `supporting_text`
        only with a short answer)."""
        data = {"answer": self.answer, "citations": [c.to_dict() for c in self.citations],
                "abstained": self.abstained, "generator": self.generator,
                "retrieval": self.retrieval}
        if self.supporting_text is not None:
            data["supporting_text"] = self.supporting_text
        return data if self.indexing is None else data | {"indexing": self.indexing}


NO_ANSWER = "The collection does not contain passages that answer this question."



@dataclass(frozen=True)
class AnswerEvent:
    """One event of a streamed answer: a text piece, or (last) the whole answer."""

    text: str = ""
    answer: Answer | None = None


def pending_note(indexing: dict[str, Any]) -> str:
    """One sentence saying that documents are still being indexed, with the job ids."""
    n, jobs = indexing["pending_documents"], indexing.get("jobs") or []
    which = f" (job{'s' if len(jobs) > 1 else ''} {', '.join(jobs)})" if jobs else ""
    return (f"{n} document{'s are' if n != 1 else ' is'} still being indexed{which} and "
            f"cannot be searched yet; ask again when indexing is done.")


def with_indexing(answer: Answer, indexing: dict[str, Any] | None) -> Answer:
    """Attach the collection's indexing state; an abstention while documents are pending
    says so (the passages that answer may be among them)."""
    if indexing and indexing.get("pending_documents"):
        answer.indexing = indexing
        if answer.abstained and pending_note(indexing) not in answer.answer:
            answer.answer = f"{answer.answer} {pending_note(indexing)}"
    return answer


def stream_with_indexing(events: Iterator[AnswerEvent], indexing: dict[str, Any] | None,
                         ) -> Iterator[AnswerEvent]:
    """`with_indexing` for a stream: the note comes as one more text piece before the
    final event, so the pieces still add up to the answer."""
    for event in events:
        if event.answer is not None:
            before = event.answer.answer
            with_indexing(event.answer, indexing)
            if event.answer.answer != before:
                yield AnswerEvent(event.answer.answer[len(before):])
        yield event
