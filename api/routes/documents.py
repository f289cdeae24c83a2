"""/v1/collections/{name}/documents: upload (multipart or JSON), list, get, delete."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import CollectionDep, PrincipalDep, ServiceDep, WorkerDep, check_job_quota
from api.schemas import DocumentList, DocumentOut, DocumentsIn, IngestAccepted
from rag.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaError

router = APIRouter(prefix="/v1/collections/{name}/documents", tags=["documents"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                "required": ["files"]}},
            "application/json": {"schema": DocumentsIn.model_json_schema()},
        },
    }
}


async def _read_files(request: Request, limit: int) -> list[tuple[str, bytes]]:
    form = await request.form(max_files=1000)
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not uploads:
        raise InvalidInputError("multipart upload needs one or more 'files' fields")
    files = []
    for upload in uploads:
        if upload.size is not None and upload.size > limit:
            raise PayloadTooLargeError(f"{upload.filename}: {upload.size} bytes is over the "
                                       f"upload limit of {limit} bytes")
        files.append((upload.filename or "upload.txt", await upload.read()))
    return files


async def _read_records(request: Request) -> list[dict]:
    try:
        body = DocumentsIn.model_validate_json(await request.body())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInputError(f"invalid JSON body at {where or 'top level'}: {first['msg']}") from exc
    return [d.model_dump(exclude_none=True) for d in body.documents]


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=IngestAccepted,
             openapi_extra=UPLOAD_BODY)
async def upload_documents(request: Request, collection: CollectionDep, service: ServiceDep,
                           worker: WorkerDep, principal: PrincipalDep) -> IngestAccepted:
    """Store documents (committed to SQLite before the 202) and queue their indexing."""
    await run_in_threadpool(check_job_quota, service, principal, collection.owner_key_id)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        files = await _read_files(request, service.settings.limits.max_upload_bytes)
        docs = await run_in_threadpool(service.parse_files, files)
    elif content_type.startswith("application/json"):
        docs = await run_in_threadpool(service.parse_records, await _read_records(request))
    else:
        raise UnsupportedMediaError(f"send multipart/form-data with 'files' or application/json "
                                    f"with 'documents', not {content_type or 'no content type'!r}")
    job_id, results = await run_in_threadpool(service.add_documents, collection, docs)
    worker.submit(job_id)
    return IngestAccepted(job_id=job_id, documents=results)


@router.get("", response_model=DocumentList)
def list_documents(collection: CollectionDep, service: ServiceDep, limit: int = 100,
                   offset: int = 0) -> DocumentList:
    if not 1 <= limit <= 1000 or offset < 0:
        raise InvalidInputError(f"need 1 <= limit <= 1000 and offset >= 0, got {limit}, {offset}")
    return DocumentList(documents=service.store.list_documents(collection, limit=limit,
                                                               offset=offset))


@router.get("/{doc_id}", response_model=DocumentOut)
def get_document(doc_id: str, collection: CollectionDep, service: ServiceDep,
                 text: bool = False) -> DocumentOut:
    return DocumentOut(**service.store.get_document(collection, doc_id, with_text=text))


@router.delete("/{doc_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_document(doc_id: str, collection: CollectionDep, service: ServiceDep,
                    worker: WorkerDep) -> Response:
    worker.submit(service.delete_document(collection, doc_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


