"""/v1/collections"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import ServiceDep
from api.schemas import CollectionCreate, CollectionList, CollectionOut

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CollectionOut)
def create_collection(body: CollectionCreate, service: ServiceDep) -> CollectionOut:
    row = service.create_collection(body.name)
    return CollectionOut(name=row.name, embedder=row.embedder, dim=row.dim)


@router.get("", response_model=CollectionList)
def list_collections(service: ServiceDep) -> CollectionList:
    return CollectionList(collections=[CollectionOut(**c) for c in service.store.list_collections()])


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_collection(name: str, service: ServiceDep) -> Response:
    service.delete_collection(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
