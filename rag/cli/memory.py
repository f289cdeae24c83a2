"""`ragmem memory ...`: sessions and their memory tiers from the command line.

The same use cases as `/v1/sessions`: sessions, messages, the assembled context with
provenance, core memory (pinned facts), archival memory and recall search.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer

from rag.cli.common import DataDirOption, JsonOption, cli_errors, console, emit, open_service
from rag.errors import InvalidInputError

memory_app = typer.Typer(help="Session memory: messages, context, core, archival, recall.",
                         no_args_is_help=True)
sessions_app = typer.Typer(help="Create, list, show and delete sessions.", no_args_is_help=True)
memory_app.add_typer(sessions_app, name="sessions")

SessionArg = Annotated[str, typer.Argument(help="Session id.")]
# -k is top-k everywhere in the CLI (ask, retrieve, memory); --k is kept here as an alias.
KOption = Annotated[int, typer.Option("--top-k", "-k", "--k", help="How many results to return.")]


class ArchivalAction(StrEnum):
    """What `memory archival` does."""

    insert = "insert"
    search = "search"


@contextmanager
def _memory(data_dir: Any) -> Iterator[Any]:
    """The service's memory; its FAISS files are written when the command ends."""
    memory = open_service(data_dir).memory
    try:
        yield memory
    finally:
        memory.close()


def _print_session(data: dict[str, Any]) -> None:
    counts = data.get("counts") or {}
    extra = ", ".join(f"{k} {v}" for k, v in counts.items())
    console.print(f"[bold]{data['id']}[/bold] {data['name']!r} collection={data['collection']} {extra}")


def _print_hits(data: dict[str, Any]) -> None:
    for n, hit in enumerate(data["results"], start=1):
        console.print(f"{n}. [{hit['tier']}:{hit['id']}] ({hit['score']:.3f}) {hit['text'][:200]}")


def _print_core(data: dict[str, Any]) -> None:
    for key, value in data["core"].items():
        console.print(f"{key}: {value}")


@sessions_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="A label.")] = "",
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Default collection.")] = None,
    metadata: Annotated[str | None, typer.Option(help="A JSON object kept with the session.")] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a session and print its id."""
    with cli_errors():
        try:
            meta = json.loads(metadata) if metadata else {}
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"--metadata is not JSON: {exc}") from exc
        if not isinstance(meta, dict):
            raise InvalidInputError("--metadata must be a JSON object")
        with _memory(data_dir) as memory:
            session = memory.create_session(name, collection=collection, metadata=meta)
        emit(session, as_json, _print_session)


@sessions_app.command("list")
def list_sessions(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List sessions, oldest first."""
    with cli_errors(), _memory(data_dir) as memory:
        data = {"sessions": memory.list_sessions()}
        emit(data, as_json, lambda d: [_print_session(s) for s in d["sessions"]])


@sessions_app.command("show")
def show(session: SessionArg, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Show a session and how much each tier holds."""
    with cli_errors(), _memory(data_dir) as memory:
        emit(memory.get_session(session), as_json, _print_session)


@sessions_app.command("delete")
def delete(session: SessionArg, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Delete a session and all its memory."""
    with cli_errors(), _memory(data_dir) as memory:
        memory.delete_session(session)
        emit({"deleted": session}, as_json, lambda d: console.print(f"deleted {d['deleted']}"))


@memory_app.command("add")
def add(
    session: SessionArg,
    content: Annotated[str, typer.Argument(help="The message text.")],
    role: Annotated[str, typer.Option(help="system, user, assistant or tool.")] = "user",
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Append a message to a session (stored and indexed at once)."""
    with cli_errors(), _memory(data_dir) as memory:
        data = {"messages": memory.add_messages(session, [(role, content)])}
        emit(data, as_json, lambda d: console.print(f"message {d['messages'][0]['seq']} added"))


@memory_app.command("messages")
def messages(session: SessionArg, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Print a session's messages in order."""
    with cli_errors(), _memory(data_dir) as memory:
        data = {"messages": memory.messages(session)}
        emit(data, as_json, lambda d: [console.print(f"{m['seq']} {m['role']}: {m['content']}")
                                   for m in d["messages"]])


@memory_app.command("context")
def context(
    session: SessionArg,
    query: Annotated[str, typer.Option("--query", "-q", help="The current question or turn.")],
    budget: Annotated[int | None, typer.Option(help="Most tokens (default: settings).")] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """The assembled context for a query, with every piece's provenance."""
    with cli_errors(), _memory(data_dir) as memory:
        data = memory.context_dict(session, query, budget=budget)
        emit(data, as_json, _print_context)


def _print_context(data: dict[str, Any]) -> None:
    console.print(f"[dim]{data['n_tokens']} of {data['budget']} tokens[/dim]")
    for p in data["pieces"]:
        score = "" if p["score"] is None else f" {p['score']:.3f}"
        console.print(f"[bold]{p['tier']}/{p['kind']}[/bold] {p['source']} "
                      f"[{p['start']}:{p['end']}] {p['tokens']} tok{score}")
        console.print(f"  {p['text'][:300]}")


@memory_app.command("core")
def core(
    session: SessionArg,
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value to pin (repeatable).")] = None,
    delete_: Annotated[list[str] | None, typer.Option("--delete", help="Key to unpin (repeatable).")] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show core memory (pinned facts), after pinning or unpinning the given keys."""
    with cli_errors():
        pairs = []
        for item in set_ or []:
            key, sep, value = item.partition("=")
            if not sep:
                raise InvalidInputError(f"--set needs key=value, got {item!r}")
            pairs.append((key.strip(), value))
        with _memory(data_dir) as memory:
            facts = memory.core(session)
            for key, value in pairs:
                facts = memory.set_core(session, key, value)
            for key in delete_ or []:
                facts = memory.delete_core(session, key)
        emit({"core": facts}, as_json, _print_core)


@memory_app.command("archival")
def archival(
    session: SessionArg,
    action: Annotated[ArchivalAction, typer.Argument(help="insert TEXT or search QUERY.")],
    text: Annotated[str, typer.Argument(help="The passage to insert, or the query.")],
    k: KOption = 5,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Insert a passage into archival memory, or search it."""
    with cli_errors(), _memory(data_dir) as memory:
        if action is ArchivalAction.insert:
            record = memory.archival_insert(session, text)
            emit(record, as_json, lambda d: console.print(f"archival record {d['id']} stored"))
            return
        emit({"results": memory.archival_search(session, text, k=k)}, as_json, _print_hits)


@memory_app.command("recall")
def recall(
    session: SessionArg,
    query: Annotated[str, typer.Argument(help="What to look for in past messages.")],
    k: KOption = 5,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search a session's past messages."""
    with cli_errors(), _memory(data_dir) as memory:
        emit({"results": memory.recall_search(session, query, k=k)}, as_json, _print_hits)
