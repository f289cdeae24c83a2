"""`ragmem ingest`, `ragmem collections ...`, `ragmem documents ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rag.cli.common import (
    DEFAULT_COLLECTION,
    CollectionOption,
    DataDirOption,
    JsonOption,
    cli_errors,
    console,
    emit,
    open_service,
)
from rag.errors import InvalidInputError

collections_app = typer.Typer(help="List, create and delete collections.", no_args_is_help=True)
documents_app = typer.Typer(help="List, show and delete documents.", no_args_is_help=True)


def expand_paths(paths: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Files named, plus supported files found under folders (sorted, recursive)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*")
                                if p.is_file() and p.suffix.lower() in suffixes))
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return found


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: CollectionOption = DEFAULT_COLLECTION,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    engine: Annotated[str | None, typer.Option(help="local (this process) or ray (Ray Data: "
                                               "parse, chunk, embed on a cluster; the `ray` "
                                               "extra); default: settings, local")] = None,
    address: Annotated[str | None, typer.Option(help="--engine ray: auto, host:port or "
                                                "ray://...; none: a local Ray cluster")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="--engine ray: embedding actors "
                                                "(default: settings, 1)")] = None,
    gpus_per_worker: Annotated[float | None, typer.Option(min=0, help="--engine ray: GPUs per "
                                                          "actor (default: settings, 0)")] = None,
    commit_chunks: Annotated[int, typer.Option(min=1, help="--engine ray: chunks per commit "
                                               "and segment")] = 2048,
) -> None:
    """Parse, chunk, store and index documents (.txt .md .html .pdf .docx .json .jsonl)."""
    from rag.ingest.parsers import SUPPORTED_SUFFIXES

    with cli_errors():
        files = expand_paths(paths, SUPPORTED_SUFFIXES)
        if not files:
            raise InvalidInputError("no supported files found")
        service = open_service(data_dir)
        index = service.settings.index
        engine = engine or index.engine
        if engine not in ("local", "ray"):
            raise InvalidInputError(f"--engine must be local or ray, got {engine!r}")
        target = service.collection(collection, create=True)
        if engine == "ray":
            from rag.ingest.ray_engine import RayOptions

            options = RayOptions(address=address or index.ray_address,
                                 workers=workers or index.ray_workers,
                                 gpus_per_worker=index.ray_gpus_per_worker if gpus_per_worker is None
                                 else gpus_per_worker, commit_chunks=commit_chunks)
            return _ingest_ray(service, target, files, options, as_json)
        results, failures = [], []
        with _progress() as bar:
            task = bar.add_task("parsing", total=len(files))
            docs = []
            for path in files:
                try:
                    docs.extend(service.parse_files([(path.name, path.read_bytes())]))
                except InvalidInputError as exc:
                    failures.append({"file": str(path), "error": str(exc)})
                bar.advance(task)
            job_id, results = service.add_documents(target, docs) if docs else (None, [])
            if job_id:
                task = bar.add_task("indexing", total=None)
                service.run_job(job_id, lambda done, total: bar.update(task, completed=done,
                                                                       total=total))
        summary = {"collection": collection, "files": len(files), "documents": results,
                   "failed": failures, "job_id": job_id}
        emit(summary, as_json, _print_ingest)
        if failures:
            raise typer.Exit(2)


def _ingest_ray(service, target, files: list[Path], options, as_json: bool) -> None:  # noqa: ANN001
    """`--engine ray`: Ray Data parses, chunks and embeds; each batch is committed here."""
    from rag.ingest.ray_engine import import_ray, run_ingest_job

    import_ray()  # a clear error naming the extra before any work
    with _progress() as bar:
        task = bar.add_task("committed chunks", total=None)
        job_id, done = run_ingest_job(service, target, files, options,
                                      lambda d, t: bar.update(task, completed=d, total=t))
    summary = {"collection": target.name, "files": len(files), "documents": done["documents"],
               "failed": done["failed"], "job_id": job_id, "engine": "ray",
               "chunks": done["chunks"], "embedded": done["embedded"]}
    emit(summary, as_json, _print_ingest)
    if done["failed"]:
        raise typer.Exit(2)


def _print_ingest(summary: dict) -> None:
    counts: dict[str, int] = {}
    for doc in summary["documents"]:
        counts[doc["status"]] = counts.get(doc["status"], 0) + 1
    console.print(f"{summary['collection']}: " + (", ".join(f"{n} {s}" for s, n in counts.items())
                                                 or "nothing stored"))
    for failure in summary["failed"]:
        console.print(f"[red]failed:[/red] {failure['error']}")


@collections_app.command("list")
def collections_list(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List collections with their document and chunk counts."""
    from rag.cli.keys import open_store  # the database only: no model is loaded

    with cli_errors(), open_store(data_dir) as store:
        rows = store.list_collections()
        emit(rows, as_json, lambda rs: _table(rs, ["name", "documents", "chunks", "embedder"]))


@collections_app.command("create")
def collections_create(name: str, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Create an empty collection."""
    with cli_errors():
        row = open_service(data_dir).create_collection(name)
        emit({"name": row.name, "embedder": row.embedder}, as_json,
             lambda r: console.print(f"created {r['name']}"))


@collections_app.command("delete")
def collections_delete(name: str, data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Delete a collection with all its documents and indexes."""
    with cli_errors():
        open_service(data_dir).delete_collection(name)
        emit({"deleted": name}, as_json, lambda r: console.print(f"deleted {name}"))


@documents_app.command("list")
def documents_list(collection: CollectionOption = DEFAULT_COLLECTION, limit: int = 100, offset: int = 0,
                   data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List a collection's documents."""
    from rag.cli.keys import open_store  # the database only: no model is loaded

    with cli_errors(), open_store(data_dir) as store:
        rows = store.list_documents(store.get_collection(collection), limit=limit, offset=offset)
        emit(rows, as_json, lambda rs: _table(rs, ["id", "title", "source", "chunks", "status"]))


@documents_app.command("show")
def documents_show(doc_id: str, collection: CollectionOption = DEFAULT_COLLECTION,
                   data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Show one document with its text."""
    with cli_errors():
        service = open_service(data_dir)
        doc = service.store.get_document(service.collection(collection), doc_id, with_text=True)
        emit(doc, as_json, lambda d: console.print(f"[bold]{d['title']}[/bold]\n{d['text']}"))


@documents_app.command("delete")
def documents_delete(doc_id: str, collection: CollectionOption = DEFAULT_COLLECTION,
                     data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Delete a document from every index."""
    with cli_errors():
        service = open_service(data_dir)
        job_id = service.delete_document(service.collection(collection), doc_id)
        service.run_job(job_id)
        emit({"deleted": doc_id}, as_json, lambda r: console.print(f"deleted {doc_id}"))


def _table(rows: list[dict], columns: list[str]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    console.print(table)
