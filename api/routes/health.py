"""/healthz"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServiceDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(service: ServiceDep) -> Health:
    return Health(status="ok", collections=len(service.store.list_collections()))
