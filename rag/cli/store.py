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


@store_app.command("bench")
def store_bench(
    urls: Annotated[list[str], typer.Option("--url", help="A store to measure (repeat: side by "
                                            "side in one run); each gets a scratch collection.")],
    docs: Annotated[int, typer.Option(help="Documents added per round (4 chunks each).")] = 200,
    batch: Annotated[int, typer.Option(help="Documents per add (one transaction).")] = 10,
    lookups: Annotated[int, typer.Option(help="get_chunks calls of 10 ids per round.")] = 200,
    rounds: Annotated[int, typer.Option(help="Rounds, alternating the stores.")] = 3,
    as_json: JsonOption = False,
) -> None:
    """Store costs side by side: add_documents (a committed upload) and get_chunks (an ask's
    hydration of 10 hits), p50 ms per call, the stores alternating in each round."""
    import random
    import statistics
    import time
    import uuid

    from rag.storage.rows import NewDocument

    with cli_errors():
        stores = [Store(u).connect() for u in urls]
        times: dict[int, dict[str, list[float]]] = {i: {"add": [], "get": []} for i in range(len(urls))}
        rng = random.Random(0)
        try:
            for r in range(rounds):
                for i, store in enumerate(stores):
                    coll = store.create_collection(f"bench-{uuid.uuid4().hex[:8]}", embedder="e", dim=3)
                    try:
                        for start in range(0, docs, batch):
                            texts = [f"round {r} document {n} " + "word " * 60 for n in
                                     range(start, min(start + batch, docs))]
                            new = [NewDocument(t, f"T{r}", "bench", {}, uuid.uuid4().hex,
                                               [(k * 75, k * 75 + 75) for k in range(4)]) for t in texts]
                            t0 = time.perf_counter()
                            store.add_documents(coll, new)
                            times[i]["add"].append(time.perf_counter() - t0)
                        ids = store.chunk_ids(coll)
                        for _ in range(lookups):
                            t0 = time.perf_counter()
                            store.get_chunks(rng.sample(ids, 10))
                            times[i]["get"].append(time.perf_counter() - t0)
                    finally:
                        store.delete_collection(coll.name)
        finally:
            for store in stores:
                store.close()
        rows = [{"store": s.backend.name, "add_p50_ms": round(1000 * statistics.median(times[i]["add"]), 2),
                 "get_chunks_p50_ms": round(1000 * statistics.median(times[i]["get"]), 3)}
                for i, s in enumerate(stores)]
        for row in rows[1:]:
            row["add_ratio"] = round(row["add_p50_ms"] / rows[0]["add_p50_ms"], 2)
            row["get_ratio"] = round(row["get_chunks_p50_ms"] / rows[0]["get_chunks_p50_ms"], 2)
        emit({"docs": docs, "batch": batch, "lookups": lookups, "rounds": rounds, "stores": rows},
             as_json, lambda d: [console.print(row) for row in d["stores"]])
