"""`ask` through memory: over one long document, or with a session's memory.

Document mode hands the generator the document's assembled memory blocks instead of
retrieved chunks; each passage keeps its offsets in the document, so citations point at
real spans. Session mode adds the session's context (core facts, archival hits, recalled
and recent messages) to the collection's retrieved passages, then appends the question
and the answer to the session. Both answer whole or stream (`stream_with_memory`); every
check runs before the first event.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memory.assembly import Piece
from memory.sessions import SessionContext
from rag.errors import ConflictError, InvalidInputError
from rag.generation.answers import NO_ANSWER, Answer, AnswerEvent, Passage
from rag.generation.extractive import is_question
from rag.generation.llm_answer import answer_events
from rag.ingest.chunking import split_sentences
from rag.retrieval.pipeline import retrieve
from rag.storage.store import CollectionRow

if TYPE_CHECKING:
    from rag.service.core import RagService

NO_CHUNK = -1  # chunk_id of core facts (message and archival ids: `session_chunk_id`)


def merge_pieces(pieces: Sequence[Piece]) -> list[Piece]:
    """Join pieces that are contiguous in the same source (one passage per run).

    The merged piece keeps the best score of its parts (None when none was scored).
    """
    merged: list[Piece] = []
    for piece in pieces:
        prev = merged[-1] if merged else None
        if prev is not None and prev.source == piece.source and prev.end == piece.start:
            scores = [s for s in (prev.score, piece.score) if s is not None]
            kind = piece.kind if prev.score is None and piece.score is not None else prev.kind
            merged[-1] = Piece(kind, prev.block_id, prev.source, prev.start, piece.end,
                               prev.n_tokens + piece.n_tokens, max(scores) if scores else None,
                               prev.text + piece.text)
        else:
            merged.append(piece)
    return merged


def by_score(passages: list[tuple[float | None, Passage]]) -> list[Passage]:
    """Passages best first; unscored ones (sinks, local window) last, in original order."""
    order = sorted(range(len(passages)),
                   key=lambda i: (passages[i][0] is None, -(passages[i][0] or 0.0), i))
    return [passages[i][1] for i in order]


def piece_trace(piece: Piece) -> dict[str, Any]:
    """A piece's provenance, for the `retrieval` block."""
    return {"kind": piece.kind, "block_id": piece.block_id, "source": piece.source,
            "start": piece.start, "end": piece.end, "tokens": piece.n_tokens,
            "score": None if piece.score is None else round(piece.score, 6)}


def document_passages(service: RagService, collection: CollectionRow, document_id: str,
                      question: str, *, budget: int) -> tuple[list[Passage], dict[str, Any]]:
    """The document's memory blocks for `question`, as passages, with the trace."""
    started = time.perf_counter()
    document = service.store.get_document(collection, document_id, with_text=True)
    ctx, name = service.memory.document_context(collection.name, document, question, budget=budget)
    pieces = merge_pieces(ctx.pieces)
    passages = by_score([(p.score, Passage(p.block_id, document["id"], document["title"], p.text,
                                           p.start, p.end, round(p.score or 0.0, 6)))
                         for p in pieces])
    trace = {"mode": "memory", "document_id": document["id"], "memory": name,
             "budget": budget, "n_tokens": ctx.n_tokens,
             "pieces": [piece_trace(p) for p in ctx.pieces],
             "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    return passages, trace


def session_chunk_id(source: str) -> int:
    """A stable chunk id for a session record, negative so it never names a collection
    chunk: message n is -(2n + 2), archival record n is -(2n + 3), others `NO_CHUNK`."""
    kind, _, ref = source.rpartition(":")
    if ref.isdigit() and kind in ("message", "archival"):
        return -(2 * int(ref) + (2 if kind == "message" else 3))
    return NO_CHUNK


def is_evidence(role: str | None, content: str) -> bool:
    """Whether a turn may be cited: a user's questions frame the question and are no
    evidence (what a user stated is), nor is an earlier abstention."""
    if role == "user":
        return any(not is_question(content[s:e]) for s, e in split_sentences(content))
    return not (role == "assistant" and NO_ANSWER in content)


def message_passage(doc: str, piece: Piece, role: str | None) -> Passage:
    """A recalled message piece as a passage; without its "role: " prefix, so offsets
    are into the message's content, and with the message's own chunk id."""
    cut = len(f"{role}: ") if role is not None else 0
    text = piece.text[max(0, cut - piece.start):]
    return Passage(session_chunk_id(piece.source), doc, piece.source, text,
                   max(0, piece.start - cut), piece.end - cut, round(piece.score or 0.0, 6))


def session_passages(session_id: str, ctx: SessionContext) -> list[Passage]:
    """A session context as passages: core facts (pinned evidence, one passage each)
    first, then archival hits and recalled messages by score. Recalled user questions and
    earlier abstentions are left out (see `is_evidence`)."""
    doc = f"session:{session_id}"
    core = [Passage(NO_CHUNK, doc, "core memory", f"{k}: {v}", 0, len(f"{k}: {v}"), 1.0)
            for k, v in ctx.core.items()]
    scored: list[tuple[float | None, Passage]] = []
    for hit in ctx.archival:
        scored.append((hit.score, Passage(session_chunk_id(f"archival:{hit.ref_id}"), doc,
                                          f"archival:{hit.ref_id}", hit.text, 0, len(hit.text),
                                          round(hit.score, 6))))
    for p in merge_pieces(ctx.recall.pieces):
        seq = p.source.rsplit(":", 1)[-1]
        role = ctx.roles.get(int(seq)) if p.source.startswith("message:") and seq.isdigit() else None
        passage = message_passage(doc, p, role)
        if passage.text.strip() and is_evidence(role, passage.text):
            scored.append((p.score, passage))
    return core + by_score(scored)


@dataclass
class MemoryAsk:
    """What an ask through memory hands the generator, and what to do with its answer."""

    passages: list[Passage]
    trace: dict[str, Any]
    answerer: Any
    session_id: str | None = None

    def finish(self, service: RagService, question: str, answer: Answer) -> Answer:
        """Attach the trace; in session mode, append the question and the answer."""
        answer.retrieval = self.trace
        if self.session_id is not None:
            service.memory.add_messages(self.session_id, [("user", question),
                                                          ("assistant", answer.answer)])
        return answer


def check_session_collection(session: dict[str, Any], collection: CollectionRow) -> None:
    """A session bound to a collection asks only that one; an unbound one asks any.

    Raises:
        ConflictError: when the session belongs to another collection.
    """
    bound = session.get("collection")
    if bound is not None and bound != collection.name:
        raise ConflictError(f"session {session['id']!r} belongs to collection {bound!r}, "
                            f"not {collection.name!r}")


def prepare_memory_ask(service: RagService, collection: CollectionRow, question: str, *,
                       retriever: str | None, k: int, generator: str | None,
                       session_id: str | None = None, document_id: str | None = None) -> MemoryAsk:
    """Everything before generation: the answerer, the session or document check, the
    memory context and (session mode) the collection's passages. Whatever can fail with a
    4xx fails here, so a stream opens only once this has returned.

    Raises:
        NotFoundError: for an unknown session or document.
        ConflictError: for a session bound to another collection.
        InvalidInputError: when both a session and a document are given.
    """
    if session_id is not None and document_id is not None:
        raise InvalidInputError("give session_id or document_id, not both")
    settings = service.settings
    budget = settings.memory.ask_budget or settings.generation.max_context_tokens
    answerer = service.answerer(generator)
    if document_id is not None:
        passages, trace = document_passages(service, collection, document_id, question, budget=budget)
        return MemoryAsk(passages, trace, answerer)
    assert session_id is not None
    check_session_collection(service.memory.get_session(session_id), collection)
    ctx = service.memory.context(session_id, question, budget=max(64, budget // 2))
    found = retrieve(question, retriever=service.retriever(collection, retriever, generator=generator),
                     store=service.store, k=k)
    # CRAG graded every chunk Incorrect: the session's memory only.
    passages, trace = ([] if found.abstained else found.passages), found.trace
    trace = {**trace, "mode": "session", "session": {
        "id": session_id, "n_tokens": ctx.n_tokens, "budget": ctx.budget,
        "pieces": [{key: v for key, v in p.items() if key != "text"}
                   for p in service.memory.provenance(ctx)]}}
    return MemoryAsk(passages + session_passages(session_id, ctx), trace, answerer, session_id)


def ask_with_memory(service: RagService, collection: CollectionRow, question: str, *,
                    retriever: str | None, k: int, generator: str | None,
                    session_id: str | None = None, document_id: str | None = None) -> Answer:
    """Answer over one document's memory, or from the collection plus a session's memory.

    With `session_id`, the question and the answer are appended to the session. Raises as
    `prepare_memory_ask`.
    """
    prepared = prepare_memory_ask(service, collection, question, retriever=retriever, k=k,
                                  generator=generator, session_id=session_id,
                                  document_id=document_id)
    answer = prepared.answerer.answer(question, prepared.passages)
    return prepared.finish(service, question, answer)


def stream_with_memory(service: RagService, collection: CollectionRow, question: str, *,
                       retriever: str | None, k: int, generator: str | None,
                       session_id: str | None = None, document_id: str | None = None,
                       ) -> Iterator[AnswerEvent]:
    """`ask_with_memory` as a stream of `AnswerEvent`s (text pieces, then the answer).

    Preparation runs now (so its errors raise before the first event); generation runs as
    the events are read. In session mode the turn is appended before the final event.
    """
    prepared = prepare_memory_ask(service, collection, question, retriever=retriever, k=k,
                                  generator=generator, session_id=session_id,
                                  document_id=document_id)

    def events() -> Iterator[AnswerEvent]:
        for event in answer_events(prepared.answerer, question, prepared.passages, prepared.trace):
            if event.answer is not None:
                prepared.finish(service, question, event.answer)
            yield event

    return events()
