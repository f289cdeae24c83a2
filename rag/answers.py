"""The values that flow from retrieval to an answer: passages, citations, answers."""

from __future__ import annotations

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"answer": self.answer, "citations": [c.to_dict() for c in self.citations],
                "abstained": self.abstained, "generator": self.generator,
                "retrieval": self.retrieval}


NO_ANSWER = "The collection does not contain passages that answer this question."
