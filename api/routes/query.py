"""/v1/collections/{name}/retrieve and /ask (JSON, or Server-Sent Events with `"stream": true`)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import CollectionDep, PrincipalDep, ServiceDep, check_session
from api.schemas import AskRequest, AskResponse, RetrieveRequest, RetrieveResponse
from rag.errors import RagmemError
from rag.generation.answers import AnswerEvent

router = APIRouter(prefix="/v1/collections/{name}", tags=["questions"])

SSE_DOC = {200: {"content": {"text/event-stream": {"example": (
    'event: token\ndata: {"text": "Gustave Eiffel [1]"}\n\n'
    'event: citations\ndata: {"citations": [...], "abstained": false, "generator": "vllm", '
    '"retrieval": {...}}\n\nevent: done\ndata: {"answer": "Gustave Eiffel [1]"}\n\n')}},
    "description": "JSON, or with `stream: true` an SSE stream"}}


@router.post("/retrieve", response_model=RetrieveResponse)
def retrieve(body: RetrieveRequest, collection: CollectionDep, service: ServiceDep) -> RetrieveResponse:
    found = service.retrieve(collection, body.query, retriever=body.retriever, top_k=body.top_k)
    return RetrieveResponse(results=[p.to_dict() for p in found.passages], retrieval=found.trace)


@router.post("/ask", response_model=AskResponse, responses=SSE_DOC)
def ask(body: AskRequest, collection: CollectionDep, service: ServiceDep,
        principal: PrincipalDep) -> Any:
    if body.session_id is not None:  # another key's session: 404, as if absent
        check_session(service, principal, body.session_id)
    if not body.stream:
        answer = service.ask(collection, body.question, retriever=body.retriever, top_k=body.top_k,
                             generator=body.generator, session_id=body.session_id,
                             document_id=body.document_id)
        return AskResponse(**answer.to_dict())
    # Everything that can fail with a 4xx (validation, retrieval or memory assembly, an
    # unknown session or document, starting the generator) happens before the stream
    # opens; only generation (and appending a session's turn) runs inside it.
    events = service.ask_stream(collection, body.question, retriever=body.retriever,
                                top_k=body.top_k, generator=body.generator,
                                session_id=body.session_id, document_id=body.document_id)
    return StreamingResponse(ask_sse(events), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def sse(event: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def ask_sse(events: Iterator[AnswerEvent]) -> Iterator[str]:
    """`token` events, then `citations`, then `done`; a failure mid-stream is an `error` event."""
    try:
        for event in events:
            if event.answer is None:
                yield sse("token", {"text": event.text})
                continue
            whole = event.answer.to_dict()
            yield sse("citations", {k: whole[k] for k in ("citations", "abstained", "generator",
                                                          "retrieval")})
            yield sse("done", {"answer": whole["answer"]})
    except RagmemError as exc:
        yield sse("error", {"detail": str(exc)})
