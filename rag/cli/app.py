"""`ragmem`: ingest, ask, retrieve, serve, collections, documents, bench."""

from __future__ import annotations

import typer

from rag.cli import (
    bench,
    bench_longctx,  # noqa: F401  (registers `bench needle` and `bench longctx`)
    calibrate,
    documents,
    keys,
    kg,
    memory,
    models,
    query,
)

app = typer.Typer(
    name="ragmem",
    help="ragmem: documents in, cited answers out; long-context memory; retrieval benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("ingest")(documents.ingest)
app.command("ask")(query.ask)
app.command("retrieve")(query.retrieve)
app.command("serve")(query.serve)
app.add_typer(documents.collections_app, name="collections")
app.add_typer(documents.documents_app, name="documents")
app.add_typer(bench.bench_app, name="bench")
app.command("calibrate")(calibrate.calibrate)
app.add_typer(models.models_app, name="models")
app.add_typer(memory.memory_app, name="memory")
app.add_typer(kg.kg_app, name="kg")
app.add_typer(keys.keys_app, name="keys")


def main() -> None:
    """Console-script entry point."""
    app()
