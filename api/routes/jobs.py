"""/v1/jobs/{job_id}"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PrincipalDep, ServiceDep, visible_job
from api.schemas import JobOut, JobProgress

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, service: ServiceDep, principal: PrincipalDep) -> JobOut:
    job = visible_job(service, principal, job_id)
    return JobOut(id=job["id"], kind=job["kind"], collection=job["collection"],
                  status=job["status"], progress=JobProgress(done=job["done"], total=job["total"]),
                  error=job["error"])
