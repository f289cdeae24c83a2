"""The FastAPI application factory. Everything stateful is made in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool

from api import ui
from api.deps import get_principal
from api.docs import install_docs
from api.errors import install_error_handlers
from api.limits import BodyLimitMiddleware
from api.routes import benchmarks, chat, collections, documents, health, jobs, openai_compat, query, sessions
from eval.jobs import run_benchmark_job
from rag.service.core import RagService
from rag.service.jobs import JobWorker
from rag.service.keys import AuthDecision, active_key_count, decide_auth
from rag.settings import Settings, get_settings, offline_environment

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, service: RagService | None = None,
               auth: AuthDecision | None = None) -> FastAPI:
    """Build the app; the service is opened (model loaded) in the lifespan, not here.

    `auth` says whether /v1 asks for an API key (default: `settings.auth.mode` for a
    server bound to `settings.host`, see `rag.service.keys.decide_auth`).
    """
    offline_environment()
    settings = settings or get_settings()
    auth = auth or decide_auth(settings.auth.mode, settings.host)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or RagService(settings)
        await run_in_threadpool(svc.open)
        await run_in_threadpool(svc.recover)
        worker = JobWorker(svc, {"benchmark": lambda job_id: run_benchmark_job(svc, job_id)})
        worker.start()
        app.state.service, app.state.worker = svc, worker
        log.info("ragmem serving data dir %s", settings.data_dir.resolve())
        log_auth(auth, active_key_count(svc.store))
        try:
            yield
        finally:
            await run_in_threadpool(worker.stop)
            await run_in_threadpool(svc.close)  # memory files, connections, the dir lock

    app = FastAPI(title="ragmem", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Documents in, cited answers out; long-context memory; benchmarks.")
    install_docs(app)  # /docs with Swagger UI's files served from the package (works offline)
    install_error_handlers(app)
    app.state.auth_required = auth.required
    limits = settings.limits
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=limits.max_body_bytes,
                       max_upload_request_bytes=limits.max_upload_request_bytes,
                       max_json_depth=limits.max_json_depth)
    app.include_router(health.router)  # /healthz (and /docs) stay open
    for module in (collections, documents, jobs, query, benchmarks, chat, openai_compat, sessions):
        app.include_router(module.router, dependencies=[Depends(get_principal)])
    app.include_router(ui.router)  # the web page at / (its API calls carry the key)
    app.mount("/ui", ui.static_files(), name="ui")
    return app


def log_auth(auth: AuthDecision, active_keys: int) -> None:
    """The start-up line saying whether auth is in force, and why."""
    log.log(logging.WARNING if auth.required and not active_keys else logging.INFO,
            "auth: %s%s", auth.describe(),
            "; no active API keys yet: create one with `ragmem keys create NAME`"
            if auth.required and not active_keys else "")
