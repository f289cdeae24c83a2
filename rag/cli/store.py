"""`ragmem store copy --from ... --to ...`: move a store between SQLite and PostgreSQL.

Every table is copied with its ids (the index dir stays valid: chunk ids are its vector
ids) in one destination transaction, then counted on both sides (rag/storage/copy.py).
Stop the servers on the source first: rows written during the copy would be missed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rag.cli.common import JsonOption, cli_errors, console, emit, staged_progress
from rag.storage.copy import copy_store
from rag.storage.store import Store

store_app = typer.Typer(help="Move a store between SQLite and PostgreSQL.", no_args_is_help=True)

LocationHelp = ("sqlite:///abs/path/ragmem.sqlite3, a file path, or "
                "postgresql://user:password@host:port/db")


@store_app.command("copy")
def store_copy(
    source: Annotated[str, typer.Option("--from", help=f"The store to read: {LocationHelp}.")],
    dest: Annotated[str, typer.Option("--to", help="The empty store to fill (created and "
                                      "migrated when new).")],
    as_json: JsonOption = False,
) -> None:
    """Copy every table (collections, documents, chunks, ops, jobs, keys, sessions, memory,
    OpenIE cache) with a count check per table; exits non-zero on any mismatch."""
    with cli_errors():
        src = Store(source).connect()
        dst = Store(dest).connect()
        try:
            with staged_progress() as progress:
                counts = copy_store(src, dst, progress=progress)
        finally:
            src.close()
            dst.close()
        emit({"from": src.backend.name, "to": dst.backend.name, "tables": counts}, as_json, _human)


def _human(data: dict) -> None:
    total = sum(data["tables"].values())
    console.print(f"copied {total} rows {data['from']} -> {data['to']}; every table's count matches:")
    for table, n in data["tables"].items():
        console.print(f"  {table:22} {n}")
