"""`ragmem ask`, `ragmem retrieve`, `ragmem serve`."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from rag.cli.common import (
    CollectionOption,
    DataDirOption,
    JsonOption,
    cli_errors,
    console,
    emit,
    load_settings,
    open_service,
)
from rag.keys import AUTH_MODES, decide_auth
from rag.settings import AuthSettings

RetrieverOption = Annotated[
    str | None,
    typer.Option("--retriever", "-r", help="bm25, dense or hybrid [default: settings, hybrid]"),
]
TopKOption = Annotated[int | None, typer.Option("--top-k", "-k", help="Passages to retrieve.")]


GeneratorOption = Annotated[
    str | None,
    typer.Option("--generator", "-g", help="extractive, vllm, openai or local [default: settings]"),
]
StreamOption = Annotated[bool, typer.Option("--stream", help="Print the answer as it is written "
                                            "(with --json: one JSON event per line).")]
SessionOption = Annotated[str | None, typer.Option("--session", help="Add this session's memory "
                                                   "and keep the turn in it.")]
DocumentOption = Annotated[str | None, typer.Option("--document", help="Answer over this one "
                                                    "document through its memory blocks.")]


AskCollectionOption = Annotated[str | None, typer.Option(
    "--collection", "-c", help="Collection name [default: the session's collection, else "
                               "default].")]


def ask(
    question: str,
    collection: AskCollectionOption = None,
    retriever: RetrieverOption = None,
    top_k: TopKOption = None,
    generator: GeneratorOption = None,
    stream: StreamOption = False,
    session: SessionOption = None,
    document: DocumentOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question from a collection, with citations."""
    with cli_errors():
        service = open_service(data_dir)
        if collection is None:  # a session asks its own collection by default
            bound = service.memory.get_session(session)["collection"] if session else None
            collection = bound or "default"
        target = service.collection(collection)
        if stream:
            _stream_answer(service.ask_stream(target, question, retriever=retriever, top_k=top_k,
                                              generator=generator, session_id=session,
                                              document_id=document), as_json=as_json)
            return
        answer = service.ask(target, question, retriever=retriever, top_k=top_k, generator=generator,
                             session_id=session, document_id=document)
        emit(answer.to_dict(), as_json, _print_answer)


def _stream_answer(events, *, as_json: bool) -> None:  # noqa: ANN001 - AnswerEvents
    """Print tokens as they come, then the citations (JSON lines with --json)."""
    for event in events:
        if event.answer is None:
            if as_json:
                _json_line({"event": "token", "text": event.text})
            else:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            continue
        data = event.answer.to_dict()
        if as_json:
            _json_line({"event": "done", **data})
        else:
            sys.stdout.write("\n")
            _print_citations(data)


def _json_line(data: dict) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _print_answer(data: dict) -> None:
    console.print(data["answer"])
    _print_citations(data)


def _print_citations(data: dict) -> None:
    console.print(f"[dim]generator: {data['generator']}[/dim]")
    for n, cite in enumerate(data["citations"], start=1):
        console.print(f"  [{n}] {cite['title']} (document {cite['document_id']}, "
                      f"chars {cite['start']}-{cite['end']})")


def retrieve(
    query: str,
    collection: CollectionOption = "default",
    retriever: RetrieverOption = None,
    top_k: TopKOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the passages a retriever finds for a query."""
    with cli_errors():
        service = open_service(data_dir)
        passages, trace = service.retrieve(service.collection(collection), query,
                                           retriever=retriever, top_k=top_k)
        data = {"results": [p.to_dict() for p in passages], "retrieval": trace}
        emit(data, as_json, _print_passages)


def _print_passages(data: dict) -> None:
    for n, p in enumerate(data["results"], start=1):
        console.print(f"[bold]{n}. {p['title']}[/bold] ({p['score']:.4f}) {p['text'][:200]}")


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default 8000].")] = None,
    auth: Annotated[str | None, typer.Option(
        help="API keys required: on, off, or auto: on unless the bind is loopback "
        "(env RAGMEM_AUTH__MODE; default auto).")] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from api.app import create_app
    from rag.service import RagService

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
    with cli_errors():  # a dir in use by another process: one clear line, exit code 2
        service.lock.acquire()
    if as_json:
        emit({"host": settings.host, "port": settings.port,
              "data_dir": str(settings.data_dir), "auth": decision.required}, True, print)
    uvicorn.run(create_app(settings, service=service), host=settings.host, port=settings.port,
                log_level="info")
