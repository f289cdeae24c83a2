"""`ragmem bench replicas`: upload-to-searchable lag between two replicas and asks/s with
1 vs 2 replicas, over one PostgreSQL and one shared index dir (issue 14)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from rag.cli.common import JsonOption, cli_errors, console, emit, staged_progress


def replicas(
    store_url: Annotated[str | None, typer.Option(
        "--store-url", help="The PostgreSQL both replicas share (default: "
                            "RAGMEM_STORE__URL); its ragmem tables are created if missing")] = None,
    docs: Annotated[int, typer.Option(min=1, help="Documents uploaded to A, one at a time, "
                                                  "each timed until B returns it.")] = 30,
    asks: Annotated[int, typer.Option(min=1, help="Asks per throughput round.")] = 40,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent ask clients.")] = 4,
    rounds: Annotated[int, typer.Option(min=1, help="Alternating 1-replica / 2-replica "
                                                    "rounds (medians reported).")] = 2,
    out: Annotated[Path | None, typer.Option("--out", help="Write replicas.json and "
                                                           "replicas.md here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Two `ragmem serve` replicas on loopback over one PostgreSQL and one index dir: the
    lag from an upload's 202 on A to `retrieve` on B returning it (p50/p95), and asks/s of
    `clients` threads all on A vs spread over A and B, in one run."""
    from eval.replicas import replicas_table, run_replicas

    with cli_errors():
        url = store_url or os.environ.get("RAGMEM_STORE__URL")
        with staged_progress() as progress:
            result = run_replicas(url, docs=docs, asks=asks, clients=clients, rounds=rounds,
                                  log_dir=out, progress=progress)
        result["command"] = (f"ragmem bench replicas --docs {docs} --asks {asks} "
                             f"--clients {clients} --rounds {rounds}")
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "replicas.json").write_text(json.dumps(result, indent=1))
            (out / "replicas.md").write_text(replicas_table(result) + "\n")
        emit(result, as_json, lambda r: console.print(replicas_table(r)))
