"""`ragmem bench ingest`: the local ingest path against Ray Data's (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rag.cli.common import DataDirOption, JsonOption, cli_errors, console, emit, load_settings, parse_ints
from rag.errors import InvalidInputError

DEFAULT_CORPUS = Path("multihop") / "hotpotqa_train_100" / "corpus.json"


def ingest_bench(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Files or folders to ingest (default: the hotpotqa_train_100 corpus in the "
             "datasets folder)")] = None,
    engine: Annotated[str, typer.Option(help="Comma-separated engines: local, ray")] = "local,ray",
    workers: Annotated[str, typer.Option(help="Ray embedding actors, comma-separated")] = "1,2",
    address: Annotated[str | None, typer.Option(help="A Ray cluster (auto, host:port, ray://...); "
                                                "none: a local one")] = None,
    gpus_per_worker: Annotated[float, typer.Option(min=0, help="GPUs per Ray actor")] = 0.0,
    out: Annotated[Path | None, typer.Option(help="Write ingest.json here")] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Passages/s of `ragmem ingest` locally and with --engine ray on the same files, and
    Ray's overhead against the local path in the same run."""
    from eval.ingest_bench import bench_ingest
    from indexes.embedder import Embedder
    from rag.cli.documents import expand_paths
    from rag.ingest.parsers import SUPPORTED_SUFFIXES

    with cli_errors():
        settings = load_settings(data_dir)
        engines = [e.strip() for e in engine.split(",") if e.strip()]
        if not engines or set(engines) - {"local", "ray"}:
            raise InvalidInputError(f"--engine takes local and/or ray, got {engine!r}")
        files = expand_paths(paths or [settings.datasets_dir / DEFAULT_CORPUS], SUPPORTED_SUFFIXES)
        if not files:
            raise InvalidInputError("no supported files found")
        index = settings.index
        embedder = Embedder(index.embedder, device=index.device, batch_size=index.batch_size,
                            torch_threads=index.torch_threads, backend=index.embedder_backend)
        result = bench_ingest(files, engines=engines, workers=parse_ints(workers, "--workers"),
                              settings=settings, embedder=embedder, address=address,
                              gpus_per_worker=gpus_per_worker,
                              progress=lambda what: console.print(f"[dim]running {what}[/dim]"))
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "ingest.json").write_text(json.dumps(result, indent=1))
        emit(result, as_json, lambda r: console.print_json(data=r))
