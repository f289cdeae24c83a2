"""Dependencies: the service and the job worker live on `app.state`, made in the lifespan;
the caller (`Principal`) comes from `Authorization: Bearer` when auth is on.

Everything a key owns is looked up through the helpers here, which answer 404 (not 403:
another key's names must not leak) for what the caller may not see.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rag.errors import NotFoundError, UnauthorizedError
from rag.service import keys
from rag.service.core import RagService
from rag.service.jobs import JobWorker
from rag.service.keys import ANONYMOUS, Principal
from rag.storage.store import CollectionRow

bearer = HTTPBearer(auto_error=False, description="an API key from `ragmem keys create`")


def get_service(request: Request) -> RagService:
    return request.app.state.service


def get_worker(request: Request) -> JobWorker:
    return request.app.state.worker


ServiceDep = Annotated[RagService, Depends(get_service)]
WorkerDep = Annotated[JobWorker, Depends(get_worker)]


def get_principal(request: Request, service: ServiceDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                  ) -> Principal:
    """The caller: anonymous when auth is off, else the key in `Authorization: Bearer`.

    Raises:
        UnauthorizedError: when auth is on and the key is missing, unknown or revoked.
    """
    if not request.app.state.auth_required:
        return ANONYMOUS
    if credentials is None or not credentials.credentials.strip():
        raise UnauthorizedError("an API key is required: send 'Authorization: Bearer <key>'")
    return keys.verify_key(service.store, credentials.credentials.strip())


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def visible_collection(service: RagService, principal: Principal, name: str) -> CollectionRow:
    """The collection `name` if the caller may see it.

    Raises:
        NotFoundError: when it does not exist or another key owns it (the same answer).
    """
    row = service.store.get_collection(name)
    if not principal.can_see(row.owner_key_id):
        raise NotFoundError(f"collection {name!r} not found")
    return row


def visible_job(service: RagService, principal: Principal, job_id: str) -> dict[str, Any]:
    """A job the caller may see (one charged to its key).

    Raises:
        NotFoundError: when it does not exist or belongs to another key.
    """
    job = service.store.get_job(job_id)
    if not principal.can_see(job["owner_key_id"]):
        raise NotFoundError(f"job {job_id!r} not found")
    return job


def check_session(service: RagService, principal: Principal, session_id: str) -> str:
    """`session_id`, if the caller may use it (existence is checked by the memory service).

    Raises:
        NotFoundError: when another key owns it.
    """
    if not principal.can_see(keys.session_owner(service.store, session_id)):
        raise NotFoundError(f"no session {session_id!r}")
    return session_id


def check_job_quota(service: RagService, principal: Principal, owner_key_id: int | None) -> None:
    """Refuse a new job (429) for a key at `limits.max_concurrent_jobs_per_key`; jobs are
    charged to the owner of their collection (benchmarks: to the caller). Not applied
    with auth off.

    Raises:
        TooManyRequestsError: at the limit.
    """
    if principal.key_id is not None:
        keys.check_job_quota(service.store, owner_key_id,
                             service.settings.limits.max_concurrent_jobs_per_key)


def get_collection(name: str, service: ServiceDep, principal: PrincipalDep) -> CollectionRow:
    return visible_collection(service, principal, name)


def get_session_id(session_id: str, service: ServiceDep, principal: PrincipalDep) -> str:
    return check_session(service, principal, session_id)


CollectionDep = Annotated[CollectionRow, Depends(get_collection)]
SessionIdDep = Annotated[str, Depends(get_session_id)]
