"""Dependencies: the service and the job worker live on `app.state`, made in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.jobs import JobWorker
from rag.service import RagService
from rag.store import CollectionRow


def get_service(request: Request) -> RagService:
    return request.app.state.service


def get_worker(request: Request) -> JobWorker:
    return request.app.state.worker


ServiceDep = Annotated[RagService, Depends(get_service)]
WorkerDep = Annotated[JobWorker, Depends(get_worker)]


def get_collection(name: str, service: ServiceDep) -> CollectionRow:
    return service.store.get_collection(name)


CollectionDep = Annotated[CollectionRow, Depends(get_collection)]
