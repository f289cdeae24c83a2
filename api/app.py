"""The FastAPI application factory. Everything stateful is made in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from api.errors import install_error_handlers
from api.routes import benchmarks, chat, collections, documents, health, jobs, query, sessions
from eval.jobs import run_benchmark_job
from rag.jobs import JobWorker
from rag.service import RagService
from rag.settings import Settings, get_settings, offline_environment

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, service: RagService | None = None) -> FastAPI:
    """Build the app; the service is opened (model loaded) in the lifespan, not here."""
    offline_environment()
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = service or RagService(settings)
        await run_in_threadpool(svc.open)
        await run_in_threadpool(svc.recover)
        worker = JobWorker(svc, {"benchmark": lambda job_id: run_benchmark_job(svc, job_id)})
        worker.start()
        app.state.service, app.state.worker = svc, worker
        log.info("ragmem serving data dir %s", settings.data_dir.resolve())
        try:
            yield
        finally:
            await run_in_threadpool(worker.stop)
            await run_in_threadpool(svc.memory.close)

    app = FastAPI(title="ragmem", version="0.1.0", lifespan=lifespan,
                  description="Documents in, cited answers out; long-context memory; benchmarks.")
    install_error_handlers(app)
    for module in (health, collections, documents, jobs, query, benchmarks, chat, sessions):
        app.include_router(module.router)
    return app
