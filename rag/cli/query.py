"""`ragmem ask`, `ragmem retrieve` (`ragmem serve` is api/cli.py's)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from rag.cli.common import (
    DEFAULT_COLLECTION,
    CollectionOption,
    DataDirOption,
    JsonOption,
    TopKOption,
    cli_errors,
    console,
    emit,
    open_service,
    retriever_help,
)

RetrieverOption = Annotated[str | None, typer.Option("--retriever", "-r", help=retriever_help())]


GeneratorOption = Annotated[
    str | None,
    typer.Option("--generator", "-g", help="extractive, vllm, openai or local (default: settings)"),
]
StreamOption = Annotated[bool, typer.Option("--stream", help="Print the answer as it is written "
                                            "(with --json: one JSON event per line).")]
SessionOption = Annotated[str | None, typer.Option("--session", help="Add this session's memory "
                                                   "and keep the turn in it.")]
DocumentOption = Annotated[str | None, typer.Option("--document", help="Answer over this one "
                                                    "document through its memory blocks.")]


AskCollectionOption = Annotated[str | None, typer.Option(
    "--collection", "-c", help="Collection name (default: the session's collection, else "
                               f"{DEFAULT_COLLECTION}).")]


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
            collection = bound or DEFAULT_COLLECTION
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
    if data.get("indexing"):  # documents not searchable yet
        pending = data["indexing"]
        console.print(f"[yellow]still indexing: {pending['pending_documents']} document(s) "
                      f"pending, job(s) {', '.join(pending['jobs']) or '-'}[/yellow]")
    for n, cite in enumerate(data["citations"], start=1):
        console.print(f"  [{n}] {cite['title']} (document {cite['document_id']}, "
                      f"chars {cite['start']}-{cite['end']})")


def retrieve(
    query: str,
    collection: CollectionOption = DEFAULT_COLLECTION,
    retriever: RetrieverOption = None,
    top_k: TopKOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the passages a retriever finds for a query."""
    with cli_errors():
        service = open_service(data_dir)
        found = service.retrieve(service.collection(collection), query,
                                 retriever=retriever, top_k=top_k)
        data = {"results": [p.to_dict() for p in found.passages], "retrieval": found.trace}
        emit(data, as_json, _print_passages)


def _print_passages(data: dict) -> None:
    for n, p in enumerate(data["results"], start=1):
        console.print(f"[bold]{n}. {p['title']}[/bold] ({p['score']:.4f}) {p['text'][:200]}")

