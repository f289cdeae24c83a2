"""/v1/collections"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import CollectionDep, PrincipalDep, ServiceDep
from api.schemas import CollectionCreate, CollectionList, CollectionOut

router = APIRouter(prefix="/v1/collections", tags=["collections"])


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


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_collection(collection: CollectionDep, service: ServiceDep) -> Response:
    service.delete_collection(collection.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
