"""/v1/collections/{name}/retrieve and /ask"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CollectionDep, ServiceDep
from api.schemas import AskRequest, AskResponse, RetrieveRequest, RetrieveResponse

router = APIRouter(prefix="/v1/collections/{name}", tags=["questions"])


@router.post("/retrieve", response_model=RetrieveResponse)
def retrieve(body: RetrieveRequest, collection: CollectionDep, service: ServiceDep) -> RetrieveResponse:
    passages, trace = service.retrieve(collection, body.query, retriever=body.retriever,
                                       top_k=body.top_k)
    return RetrieveResponse(results=[p.to_dict() for p in passages], retrieval=trace)


@router.post("/ask", response_model=AskResponse)
def ask(body: AskRequest, collection: CollectionDep, service: ServiceDep) -> AskResponse:
    answer = service.ask(collection, body.question, retriever=body.retriever, top_k=body.top_k)
    return AskResponse(**answer.to_dict())
