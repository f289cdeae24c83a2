"""/v1/benchmarks: run a retrieval benchmark as a job; poll it for progress and results."""

from __future__ import annotations

import shutil
import uuid

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import PrincipalDep, ServiceDep, WorkerDep, check_job_quota, visible_job
from api.schemas import BenchmarkAccepted, BenchmarkOut, BenchmarkRequest, DatasetList, JobProgress
from eval.datasets import load_multihop
from eval.jobs import REPORT_FILES, available_datasets, report_dir, resolve_dataset
from rag.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaError,
)
from rag.retrieval.base import RETRIEVER_NAMES
from rag.service.core import RagService
from rag.service.keys import Principal

router = APIRouter(prefix="/v1/benchmarks", tags=["benchmarks"])


def _check(body: BenchmarkRequest) -> None:
    unknown = [r for r in body.retrievers if r not in RETRIEVER_NAMES]
    if unknown:
        raise InvalidInputError(f"unknown retrievers {unknown}; choose from {list(RETRIEVER_NAMES)}")
    if any(k < 1 or k > 1000 for k in body.k):
        raise InvalidInputError(f"k values must be within 1..1000, got {body.k}")


async def _uploaded(request: Request, service: RagService) -> tuple[dict, BenchmarkRequest]:
    """Save an uploaded multihop dataset (files `questions`, `corpus`) and check it loads."""
    form = await request.form(max_files=2)
    files = {k: form.get(k) for k in ("questions", "corpus")}
    if not all(isinstance(f, UploadFile) for f in files.values()):
        raise InvalidInputError("upload needs two files: 'questions' and 'corpus'")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    body = BenchmarkRequest(
        dataset=fields.get("name", "uploaded"),
        retrievers=[r.strip() for r in fields.get("retrievers", "bm25,dense,hybrid").split(",")],
        k=[int(k) for k in fields.get("k", "1,2,5,10").split(",")],
        limit=int(fields["limit"]) if fields.get("limit") else None)
    folder = service.settings.data_dir / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    limit = service.settings.limits.max_upload_bytes
    for key, upload in files.items():
        data = await upload.read()
        if len(data) > limit:
            shutil.rmtree(folder)
            raise PayloadTooLargeError(f"{key}: {len(data)} bytes is over the limit of {limit}")
        (folder / f"{key}.json").write_bytes(data)
    try:
        await run_in_threadpool(load_multihop, folder)
    except InvalidInputError:
        shutil.rmtree(folder)
        raise
    return {"kind": "multihop", "path": str(folder)}, body


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=BenchmarkAccepted,
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": BenchmarkRequest.model_json_schema()},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "questions": {"type": "string", "format": "binary"},
                     "corpus": {"type": "string", "format": "binary"},
                     "retrievers": {"type": "string"}, "k": {"type": "string"}}}}}}})
async def start_benchmark(request: Request, service: ServiceDep, worker: WorkerDep,
                          principal: PrincipalDep) -> BenchmarkAccepted:
    """Start a benchmark on a named dataset (JSON) or an uploaded one (multipart)."""
    await run_in_threadpool(check_job_quota, service, principal, principal.key_id)
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            source, body = await _uploaded(request, service)
        elif content_type.startswith("application/json"):
            body = BenchmarkRequest.model_validate_json(await request.body())
            source = resolve_dataset(service.settings.datasets_dir, body.dataset)
        else:
            raise UnsupportedMediaError("send application/json naming a dataset, or multipart "
                                        "with 'questions' and 'corpus' files")
    except (ValidationError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(f"invalid benchmark request: {exc}") from exc
    _check(body)
    payload = {**source, "name": body.dataset, "retrievers": body.retrievers, "k": body.k,
               "limit": body.limit, "split": body.split}
    job_id = service.store.create_job(None, kind="benchmark", total=0, payload=payload,
                                      owner_key_id=principal.key_id)
    worker.submit(job_id)
    return BenchmarkAccepted(id=job_id, status="queued")


@router.get("/datasets", response_model=DatasetList)
def list_datasets(service: ServiceDep) -> DatasetList:
    """Datasets a benchmark can name."""
    found = available_datasets(service.settings.datasets_dir)
    return DatasetList(datasets={n: {"kind": d["kind"]} for n, d in found.items()})


def _benchmark_job(service: RagService, principal: Principal, benchmark_id: str) -> dict:
    """The caller's benchmark job. Raises NotFoundError for another key's or another kind."""
    job = visible_job(service, principal, benchmark_id)
    if job["kind"] != "benchmark":
        raise NotFoundError(f"benchmark {benchmark_id!r} not found")
    return job


@router.get("/{benchmark_id}", response_model=BenchmarkOut)
def get_benchmark(benchmark_id: str, service: ServiceDep, principal: PrincipalDep) -> BenchmarkOut:
    """Progress, and the results object once done."""
    job = _benchmark_job(service, principal, benchmark_id)
    return BenchmarkOut(id=job["id"], status=job["status"], stage=job["stage"],
                        progress=JobProgress(done=job["done"], total=job["total"]),
                        result=job["result"], error=job["error"])


@router.get("/{benchmark_id}/recall.png", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}, "description": "the recall plot"},
                       404: {"description": "unknown or failed benchmark, or one without a report"},
                       409: {"description": "the benchmark has not finished"}})
def get_recall_plot(benchmark_id: str, service: ServiceDep, principal: PrincipalDep) -> FileResponse:
    """The report's Recall@k plot (nDCG bars for BEIR) of a finished benchmark."""
    job = _benchmark_job(service, principal, benchmark_id)
    if job["status"] in ("queued", "running"):
        raise ConflictError(f"benchmark {benchmark_id!r} is {job['status']}; its plot comes once done")
    if job["status"] != "done":
        raise NotFoundError(f"benchmark {benchmark_id!r} {job['status']}: it has no recall plot")
    path = report_dir(service.settings.data_dir, job["id"]) / REPORT_FILES["png"]
    if not path.is_file():  # e.g. a job finished by a version that wrote no report
        raise NotFoundError(f"benchmark {benchmark_id!r} has no recall plot")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-cache"})
