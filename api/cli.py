"""`ragmem`: the root command, and `ragmem serve`.

The top floor assembles the app: the rag floor's commands (`rag/cli/`: ingest, ask,
retrieve, collections, documents, models, memory, kg, keys), the eval floor's
(`eval/cli/`: bench, calibrate) and the HTTP server here. Heavy modules (torch,
sentence-transformers, FAISS, spaCy, FastAPI, uvicorn) are imported inside the commands
that use them, so `ragmem --help` and the database-only commands start fast.

Option names mean one thing everywhere: `-k`/`--top-k` is how many results a command
returns (ask, retrieve, memory archival/recall); benchmark cut-offs are `--cutoffs`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from eval.cli import bench_app, calibrate
from eval.cli.synth import synth
from rag.cli import documents, index, keys, kg, memory, models, query, store
from rag.cli.common import DataDirOption, JsonOption, cli_errors, console, emit, load_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    auth: Annotated[str | None, typer.Option(
        help="API keys required: on, off, or auto: on unless the bind is loopback "
        "(env RAGMEM_AUTH__MODE; default auto).")] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from api.app import create_app
    from rag.service.core import RagService
    from rag.service.keys import AUTH_MODES, decide_auth
    from rag.settings import AuthSettings

    settings = load_settings(data_dir)
    settings = settings.model_copy(update={k: v for k, v in {"host": host, "port": port}.items()
                                           if v is not None})
    if auth is not None:
        if auth not in AUTH_MODES:
            raise typer.BadParameter(f"use one of {', '.join(AUTH_MODES)}", param_hint="--auth")
        settings = settings.model_copy(update={"auth": AuthSettings(mode=auth)})
    decision = decide_auth(settings.auth.mode, settings.host)  # create_app decides the same
    console.print(f"auth: {decision.describe()}")
    service = RagService(settings)
    if not service.replicated:  # replicas on PostgreSQL share the dir (rag/storage/lock.py)
        with cli_errors():  # a dir in use by another process: one clear line, exit code 2
            service.lock.acquire()
    if as_json:
        emit({"host": settings.host, "port": settings.port,
              "data_dir": str(settings.data_dir), "auth": decision.required}, True, print)
    uvicorn.run(create_app(settings, service=service), host=settings.host, port=settings.port,
                log_level="info")


app = typer.Typer(
    name="ragmem",
    help="ragmem: documents in, cited answers out; long-context memory; retrieval benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("ingest")(documents.ingest)
app.command("ask")(query.ask)
app.command("retrieve")(query.retrieve)
app.command("serve")(serve)
app.add_typer(documents.collections_app, name="collections")
app.add_typer(documents.documents_app, name="documents")
app.add_typer(bench_app, name="bench")
app.command("calibrate")(calibrate)
app.command("synth")(synth)
app.add_typer(models.models_app, name="models")
app.add_typer(memory.memory_app, name="memory")
app.add_typer(kg.kg_app, name="kg")
app.add_typer(index.index_app, name="index")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(store.store_app, name="store")


def main() -> None:
    """Console-script entry point (`[project.scripts] ragmem`)."""
    app()


if __name__ == "__main__":  # python -m api.cli
    main()
