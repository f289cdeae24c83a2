"""/v1/sessions: conversations with MemGPT-style memory tiers over InfLLM blocks.

Core memory (pinned facts), recall memory (every message, searchable), archival memory
(free-form passages, searchable), and the assembled context with provenance.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.deps import PrincipalDep, ServiceDep, SessionIdDep
from api.schemas import (
    ArchivalIn,
    ArchivalOut,
    ContextOut,
    CoreIn,
    CoreOut,
    CoreValueIn,
    MemoryHitList,
    MessageIn,
    MessageList,
    MessagesIn,
    SessionCreate,
    SessionList,
    SessionOut,
)
from rag.service import keys
from rag.service.memory import MAX_K, MemoryService

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


def get_memory(service: ServiceDep) -> MemoryService:
    return service.memory


MemoryDep = Annotated[MemoryService, Depends(get_memory)]
QueryParam = Annotated[str, Query(min_length=1, description="the current question or turn")]
KParam = Annotated[int, Query(ge=1, le=MAX_K, description="results to return")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
def create_session(memory: MemoryDep, principal: PrincipalDep,
                   body: SessionCreate | None = None) -> SessionOut:
    """Create a session owned by the caller's key."""
    body = body or SessionCreate()
    session = memory.create_session(body.name, collection=body.collection, metadata=body.metadata,
                                    owner_key_id=principal.key_id)  # one transaction
    return SessionOut(**session)


@router.get("", response_model=SessionList)
def list_sessions(memory: MemoryDep, service: ServiceDep, principal: PrincipalDep) -> SessionList:
    """The sessions the caller may see."""
    owners = keys.session_owners(service.store)
    return SessionList(sessions=[SessionOut(**s) for s in memory.list_sessions()
                                 if principal.can_see(owners.get(s["id"]))])


@router.get("/{session_id}", response_model=SessionOut)
def get_session(session_id: SessionIdDep, memory: MemoryDep) -> SessionOut:
    return SessionOut(**memory.get_session(session_id))


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_session(session_id: SessionIdDep, memory: MemoryDep) -> Response:
    memory.delete_session(session_id)  # and its owner row
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{session_id}/messages", status_code=status.HTTP_201_CREATED, response_model=MessageList)
def add_messages(session_id: SessionIdDep, body: MessageIn | MessagesIn, memory: MemoryDep) -> MessageList:
    turns = body.messages if isinstance(body, MessagesIn) else [body]
    return MessageList(messages=memory.add_messages(session_id, [(m.role, m.content) for m in turns]))


@router.get("/{session_id}/messages", response_model=MessageList)
def list_messages(session_id: SessionIdDep, memory: MemoryDep, since: Annotated[int, Query(ge=0)] = 0,
                  limit: Annotated[int | None, Query(ge=1)] = None) -> MessageList:
    return MessageList(messages=memory.messages(session_id, since=since, limit=limit))


@router.get("/{session_id}/context", response_model=ContextOut)
def get_context(session_id: SessionIdDep, query: QueryParam, memory: MemoryDep,
                budget: Annotated[int | None, Query(ge=1, description="most tokens")] = None,
                ) -> ContextOut:
    return ContextOut(**memory.context_dict(session_id, query, budget=budget))


@router.get("/{session_id}/core", response_model=CoreOut)
def get_core(session_id: SessionIdDep, memory: MemoryDep) -> CoreOut:
    return CoreOut(core=memory.core(session_id))


@router.put("/{session_id}/core", response_model=CoreOut)
def replace_core(session_id: SessionIdDep, body: CoreIn, memory: MemoryDep) -> CoreOut:
    return CoreOut(core=memory.replace_core(session_id, body.core))


@router.put("/{session_id}/core/{key}", response_model=CoreOut)
def set_core(session_id: SessionIdDep, key: str, body: CoreValueIn, memory: MemoryDep) -> CoreOut:
    return CoreOut(core=memory.set_core(session_id, key, body.value))


@router.delete("/{session_id}/core/{key}", response_model=CoreOut)
def delete_core(session_id: SessionIdDep, key: str, memory: MemoryDep) -> CoreOut:
    return CoreOut(core=memory.delete_core(session_id, key))


@router.post("/{session_id}/archival", status_code=status.HTTP_201_CREATED, response_model=ArchivalOut)
def archival_insert(session_id: SessionIdDep, body: ArchivalIn, memory: MemoryDep) -> ArchivalOut:
    return ArchivalOut(**memory.archival_insert(session_id, body.text))


@router.get("/{session_id}/archival", response_model=MemoryHitList)
def archival_search(session_id: SessionIdDep, query: QueryParam, memory: MemoryDep, k: KParam = 5,
                    ) -> MemoryHitList:
    return MemoryHitList(results=memory.archival_search(session_id, query, k=k))


@router.get("/{session_id}/recall", response_model=MemoryHitList)
def recall_search(session_id: SessionIdDep, query: QueryParam, memory: MemoryDep, k: KParam = 5,
                  ) -> MemoryHitList:
    return MemoryHitList(results=memory.recall_search(session_id, query, k=k))
