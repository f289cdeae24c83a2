"""`ragmem index ...`: a collection's index segments (stats, a full merge, a checksum walk)."""

from __future__ import annotations

from typing import Any

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
)

index_app = typer.Typer(help="The on-disk index segments of a collection.", no_args_is_help=True)


def _print_segments(result: dict[str, Any]) -> None:
    table = Table("segment", "rows", "tombstones", "hnsw", "bytes",
                  title=f"{result['collection']}: {len(result['segments'])} segments, "
                        f"applied op {result['applied_seq']}")
    for s in result["segments"]:
        table.add_row(str(s["name"] or "(unsaved)"), str(s["rows"]), str(s["deleted"]),
                      "yes" if s["hnsw"] else "", str(s["bytes"]))
    console.print(table)


def _stats(service: Any, collection: str) -> dict[str, Any]:
    live = service.indexes.get(service.collection(collection))
    segments = live.segment_stats()
    return {"collection": collection, "applied_seq": live.applied_seq,
            "chunks": live.dense.count(), "segments": segments,
            "rows": sum(s["rows"] for s in segments),
            "tombstones": sum(s["deleted"] for s in segments),
            "bytes": sum(s["bytes"] for s in segments),
            "kg": live.kg_record["folder"] if live.kg_record else None}


@index_app.command("stats")
def stats(
    collection: CollectionOption = DEFAULT_COLLECTION,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Segments of the collection: rows, tombstones, HNSW or exact, bytes on disk."""
    with cli_errors():
        emit(_stats(open_service(data_dir), collection), as_json, _print_segments)


@index_app.command("merge")
def merge(
    collection: CollectionOption = DEFAULT_COLLECTION,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Merge every segment into one now, dropping tombstoned rows."""
    with cli_errors():
        service = open_service(data_dir)
        report = service.indexes.merge(service.collection(collection))
        result = {**_stats(service, collection), "merged": report["merged"],
                  "seconds": report["seconds"]}
        emit(result, as_json, lambda r: (console.print(
            f"{'merged' if r['merged'] else 'nothing to merge'} in {r['seconds']} s"),
            _print_segments(r)))


@index_app.command("verify")
def verify(
    collection: CollectionOption = DEFAULT_COLLECTION,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Checksum every index file the manifest names; exit 1 on any mismatch."""
    from rag.indexing.manifest import verify as verify_folder

    with cli_errors():
        service = open_service(data_dir)
        service.collection(collection)  # a clear error for an unknown collection
        problems = verify_folder(service.indexes.folder(collection))
        emit({"collection": collection, "ok": not problems, "problems": problems}, as_json,
             lambda r: console.print("all index files match their checksums" if r["ok"]
                                     else "\n".join(r["problems"])))
    if problems:
        raise typer.Exit(1)
