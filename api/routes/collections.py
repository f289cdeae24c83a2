"""/v1/collections"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import Field

from api.deps import CollectionDep, PrincipalDep, ServiceDep
from api.schemas import CollectionCreate, CollectionList, CollectionOut

router = APIRouter(prefix="/v1/collections", tags=["collections"])


class CollectionDetail(CollectionOut):
    """One collection: its counts, the embedder it is pinned to and its built indexes."""

    indexes: dict[str, dict[str, Any]] = Field(
        ..., description="every built index (dense, bm25, and hipporag once its graph is "
                         "built) with its statistics")
    applied_seq: int = Field(..., description="the last document operation the indexes reflect")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CollectionOut)
def create_collection(body: CollectionCreate, service: ServiceDep,
                      principal: PrincipalDep) -> CollectionOut:
    """Create a collection owned by the caller's key (names are global: 409 if taken)."""
    row = service.create_collection(body.name, owner_key_id=principal.key_id)
    return CollectionOut(name=row.name, embedder=row.embedder, dim=row.dim)


@router.get("", response_model=CollectionList)
def list_collections(service: ServiceDep, principal: PrincipalDep) -> CollectionList:
    """The collections the caller may see."""
    return CollectionList(collections=[CollectionOut(**c) for c in service.store.list_collections()
                                       if principal.can_see(c["owner_key_id"])])


@router.get("/{name}", response_model=CollectionDetail, responses={404: {"description": "no such "
                                                                        "collection"}})
def get_collection(collection: CollectionDep, service: ServiceDep) -> CollectionDetail:
    """One collection: document and chunk counts, embedder, and the indexes built."""
    counts = next(c for c in service.store.list_collections() if c["name"] == collection.name)
    stats = dict(service.indexes.get(collection).stats())
    applied = stats.pop("applied_seq")
    return CollectionDetail(name=collection.name, embedder=collection.embedder, dim=collection.dim,
                            documents=counts["documents"], chunks=counts["chunks"],
                            indexes=stats, applied_seq=applied)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_collection(collection: CollectionDep, service: ServiceDep) -> Response:
    service.delete_collection(collection.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
