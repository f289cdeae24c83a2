"""`ragmem bench scale`: issue 13's table (write, delete, query, open and memory costs as
the collection grows), measured through the service on synthetic corpora."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rag.cli.common import (
    DataDirOption,
    JsonOption,
    cli_errors,
    console,
    emit,
    load_settings,
    open_service,
    parse_ints,
    staged_progress,
)

DEFAULT_SETS = ("2wiki_dev_657", "musique_train_100", "hotpotqa_train_100")


def parse_sizes(text: str) -> list[int]:
    """`10000,100k,1m` -> [10000, 100000, 1000000] (`rag.cli.common.parse_ints`)."""
    return parse_ints(text, "--sizes")


def scale(
    datasets: Annotated[list[Path] | None, typer.Argument(
        help="Multi-hop dataset folders whose passages and questions to use "
             "(default: the three multihop sets in the datasets folder)")] = None,
    sizes: Annotated[str, typer.Option(help="Collection sizes in chunks (10k, 1m accepted); "
                                            "1000000 is the issue's target.")] = "10000,100000",
    batch: Annotated[int, typer.Option(min=1, help="Chunks per bulk-ingest job.")] = 10_000,
    queries: Annotated[int, typer.Option(min=1, help="Queries per latency measurement.")] = 50,
    base: Annotated[int, typer.Option(min=1, help="Passages embedded for real; the corpus "
                                                  "tiles their vectors with noise.")] = 1000,
    per_doc: Annotated[int, typer.Option(
        "--per-doc", min=0, help="After each size's measurements, upload this many documents "
                                 "one per request through `ragmem serve` on loopback and "
                                 "record ms per write (per_doc.png/csv with --out).")] = 0,
    ef_search: Annotated[str, typer.Option(
        "--ef-search", help="HNSW efSearch values to sweep (recall@10 and p50 of each, on the "
                            "same warm index), e.g. 64,128,256; empty: none.")] = "",
    out: Annotated[Path | None, typer.Option("--out", help="Write scale.json, scale.md (and "
                                                           "per_doc.csv/png) here.")] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add/delete/query/open costs and RSS as the collection grows (issue 13's table).

    Each size is built in a temporary data dir through the service (SQLite, chunking,
    BM25, FAISS, index files as in any ingest); only the corpus's vectors are precomputed
    (real embeddings of --base passages, tiled with noise). New documents and queries
    use the real model unless a row says the encoder is excluded.
    """
    from eval.datasets import load_multihop
    from eval.scale import run_scale
    from eval.scale_corpus import one_chunk_passages, record
    from eval.scale_report import scale_table, write_scale_report

    with cli_errors():
        settings = load_settings(data_dir)
        size_list = parse_sizes(sizes)
        folders = datasets or [settings.datasets_dir / "multihop" / n for n in DEFAULT_SETS]
        loaded = [load_multihop(f) for f in folders]
        passages = one_chunk_passages(loaded, settings.chunking.size)
        questions = [q.question for d in loaded for q in d.questions][:queries]
        service = open_service(data_dir)
        with staged_progress() as progress:
            after = None
            if per_doc:
                from eval.scale import COLLECTION
                from eval.scale_http import per_doc as upload_each

                def after(run: Any, n: int) -> dict[str, Any]:
                    docs = [record(passages, n + j) for j in range(per_doc)]
                    return upload_each(run.data_dir, COLLECTION, n, docs, questions[0], progress)

            command = f"ragmem bench scale --sizes {sizes} --batch {batch} --queries {queries}" \
                      f" --base {base}" + (f" --per-doc {per_doc}" if per_doc else "") \
                      + (f" --ef-search {ef_search}" if ef_search else "")

            def done(partial: dict[str, Any]) -> None:  # after each size: a long run keeps it
                if out:
                    files = write_scale_report(out, partial, command)
                    partial["files"] = {k: str(v) for k, v in files.items()}

            result = run_scale(service.embedder, settings, passages, questions, size_list,
                               batch=batch, base=base, progress=progress, after=after, done=done,
                               ef_values=parse_ints(ef_search, "--ef-search") if ef_search else ())
        emit(result, as_json, lambda r: console.print(scale_table(r), markup=False))
