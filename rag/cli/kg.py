"""`ragmem kg ...`: a collection's knowledge graph (build, stats, HippoRAG OpenIE import, export)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
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
    staged_progress,
)
from rag.errors import InvalidInputError

kg_app = typer.Typer(help="The HippoRAG-style knowledge graph of a collection.",
                     no_args_is_help=True)


def _graph(service: Any, collection: str) -> Any:
    """The collection's built graph, or a clear error."""
    kg = service.indexes.get(service.collection(collection)).kg
    if kg is None:
        raise InvalidInputError(f"collection {collection!r} has no knowledge graph yet; run "
                                f"`ragmem kg build --collection {collection}`")
    return kg


def _build(service: Any, collection: str, *, rebuild: bool) -> dict[str, Any]:
    target = service.collection(collection)
    before = service.indexes.get(target).kg
    started = time.perf_counter()
    with staged_progress() as progress:
        kg = service.indexes.build_kg(target, lambda done, total: progress("graph", done, total),
                                      rebuild=rebuild)
    built = kg is not before
    return {"collection": collection, "built": built, "seconds": round(time.perf_counter() - started, 2),
            **({"build": kg.build_info} if built else {}), "stats": kg.stats()}


def _print_stats(stats: dict[str, Any]) -> None:
    table = Table("", "value", title="knowledge graph")
    for key in ("passages", "phrases", "nodes", "edges", "relation_edges", "synonymy_edges",
                "facts", "mode", "mode_setting"):
        table.add_row(key, str(stats.get(key, "")))
    for source, count in sorted(stats.get("sources", {}).items()):
        table.add_row(f"triples from {source}", f"{count} passages")
    console.print(table)


@kg_app.command("build")
def build(
    collection: CollectionOption = DEFAULT_COLLECTION,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Rebuild even when the graph is up "
                                                            "to date.")] = False,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Build the collection's graph (kept when up to date; rebuilt when its triples changed)."""
    with cli_errors():
        result = _build(open_service(data_dir), collection, rebuild=rebuild)
        emit(result, as_json, lambda r: (console.print(
            f"{'built' if r['built'] else 'up to date'} in {r['seconds']} s"),
            _print_stats(r["stats"])))


@kg_app.command("stats")
def stats(
    collection: CollectionOption = DEFAULT_COLLECTION,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Nodes, edges, facts, synonymy edges and the OpenIE sources of the graph's triples."""
    with cli_errors():
        result = {"collection": collection, **_graph(open_service(data_dir), collection).stats()}
        emit(result, as_json, _print_stats)


@kg_app.command("import-openie")
def import_openie(
    file: Annotated[Path, typer.Argument(help="A HippoRAG OpenIE results file "
                                              "(openie_*_results_*.json)")],
    collection: CollectionOption = DEFAULT_COLLECTION,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import HippoRAG's OpenIE for the collection's matching chunks, then (re)build its graph.

    Passages match chunks by `title + "\\n" + text`, else title and text, else text. The
    triples are cached per chunk text as source `import`, which the graph prefers (setting
    graph.prefer_sources).
    """
    with cli_errors():
        if not file.is_file():
            raise FileNotFoundError(f"{file}: no such file")
        service = open_service(data_dir)
        target = service.collection(collection)
        with staged_progress() as progress:
            report = service.indexes.import_openie(
                target, file, progress=lambda done, total: progress("graph", done, total))
        emit({"collection": collection, **report}, as_json, _print_import)


def _print_import(report: dict[str, Any]) -> None:
    console.print(f"{report['matched_docs']} of {report['docs']} passages matched "
                  f"{report['matched_chunks']} chunks ({report['unmatched_docs']} passages and "
                  f"{report['unmatched_chunks']} chunks unmatched)")
    if not report["preferred"]:
        console.print("[yellow]warning:[/yellow] graph.prefer_sources lacks 'import': the "
                      "graph will not use these triples")
    if "stats" in report:
        console.print("graph rebuilt" if report["rebuilt"] else "graph already up to date")
        _print_stats(report["stats"])


@kg_app.command("export")
def export(
    graphml: Annotated[Path, typer.Option("--graphml", help="Write the graph here (GraphML).")],
    collection: CollectionOption = DEFAULT_COLLECTION,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the graph as GraphML (networkx): phrase and passage nodes, weighted edges.

    Nodes are `phrase:<text>` and `passage:<chunk id>` with a `kind`; edges carry `kind`
    (relation, synonym, context) and `weight`.
    """
    import networkx as nx

    with cli_errors():
        graph = _graph(open_service(data_dir), collection).to_networkx()
        graphml.parent.mkdir(parents=True, exist_ok=True)
        nx.write_graphml(graph, graphml)
        result = {"collection": collection, "path": str(graphml),
                  "nodes": graph.number_of_nodes(), "edges": graph.number_of_edges()}
        emit(result, as_json, lambda r: console.print(
            f"wrote {r['path']} ({r['nodes']} nodes, {r['edges']} edges)"))
