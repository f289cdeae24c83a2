"""`ragmem bench needle|longctx`: long-context memory benchmarks (issue 7).

Both build throwaway block memories (`eval.longctx`) with the configured embedder and
memory shape, and report whether the gold text lands inside the assembled context,
lookup latency, build time and peak RAM. Importing this module registers the commands
on `bench_app`.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from eval.cli.bench import bench_app
from rag.cli.common import (
    DataDirOption,
    JsonOption,
    cli_errors,
    console,
    emit,
    load_settings,
    parse_ints,
    staged_progress,
)
from rag.errors import InvalidInputError

if TYPE_CHECKING:
    from rag.settings import Settings

ESSAYS = Path("longctx") / "niah_paulgraham_haystack" / "PaulGrahamEssays"
DEFAULT_DEPTHS = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0"

BudgetOption = Annotated[int | None, typer.Option("--budget", help="Context budget in tokens "
                                                  "(default: settings memory.budget, 4096)")]
RepeatsOption = Annotated[int, typer.Option("--repeats", min=1, help="Lookups per case (latency).")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write the JSON result here (a folder).")]




def parse_depths(text: str) -> list[float]:
    """Comma-separated depths in [0, 1].

    Raises:
        InvalidInputError: on anything else.
    """
    try:
        depths = [float(p) for p in text.split(",") if p.strip()]
    except ValueError as exc:
        raise InvalidInputError(f"--depths must be comma-separated numbers, got {text!r}") from exc
    if not depths or any(not 0.0 <= d <= 1.0 for d in depths):
        raise InvalidInputError(f"--depths must lie in [0, 1], got {text!r}")
    return depths


def memory_tools(settings: Settings) -> dict[str, Any]:
    """The encoder, token counter, context shape and cache size the benchmarks use."""
    from indexes.embedder import Embedder
    from memory.assembly import AssemblyConfig
    from memory.tokens import HFTokenCounter

    idx, mem = settings.index, settings.memory
    embedder = Embedder(idx.embedder, device=idx.device, batch_size=idx.batch_size,
                        torch_threads=idx.torch_threads, backend=idx.embedder_backend,
                        cache_dir=(settings.generation.models_dir or settings.data_dir / "models")
                        / "embedder-onnx").load()
    config = AssemblyConfig(n_init=mem.n_init, n_local=mem.n_local, top_k=mem.top_k,
                            block_tokens=mem.block_tokens, reps=mem.reps)
    return {"encoder": embedder, "counter": HFTokenCounter(embedder.tokenizer), "config": config,
            "cache_bytes": mem.cache_mb * 2**20}


def find_dataset(settings: Settings, file: Path) -> Path:
    """`file` itself, or the same relative path or name under `<datasets_dir>/longctx`.

    Raises:
        FileNotFoundError: when it is nowhere.
    """
    if file.exists():
        return file
    root = settings.datasets_dir / "longctx"
    if (root / file).exists():
        return root / file
    found = sorted(root.rglob(file.name)) if root.is_dir() else []
    if found:
        return found[0]
    raise FileNotFoundError(f"no long-context file {str(file)!r} (looked in {root})")


def _write(out: Path | None, name: str, result: dict[str, Any]) -> None:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}.json"
        path.write_text(json.dumps(result, indent=1, default=str))
        result.setdefault("meta", {})["file"] = str(path)


def _print_summary(result: dict[str, Any]) -> None:
    table = Table("set", "cases", "recall", "block hit", "lookup p50 ms", "p95 ms",
                  "of which query encode ms", "build s", "peak RSS MB")
    for name, row in result["summary"].items():
        table.add_row(name, str(row["cases"]), f"{row['recall']:.3f}", f"{row['block_hit']:.3f}",
                      f"{row['lookup_ms_p50']:.1f}", f"{row['lookup_ms_p95']:.1f}",
                      f"{row['query_encode_ms_p50']:.1f}", f"{row['build_s']:.1f}",
                      f"{row['peak_rss_mb']:.0f}")
    console.print(table)


@bench_app.command("needle")
def needle(
    tokens: Annotated[str, typer.Option(help="Haystack lengths in tokens.")] = "32000,128000,1000000",
    needles: Annotated[int, typer.Option(min=1, max=10, help="Needles per haystack.")] = 1,
    depths: Annotated[str, typer.Option(help="Depths of the first needle, 0..1.")] = DEFAULT_DEPTHS,
    budget: BudgetOption = None,
    essays: Annotated[Path | None, typer.Option(help="Folder of *.txt filler (default: "
                                                "<datasets_dir>/longctx/niah_paulgraham_haystack/"
                                                "PaulGrahamEssays)")] = None,
    repeats: RepeatsOption = 5,
    out: OutOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Needle in a haystack over memory blocks: is every needle inside the assembled context?"""
    from eval.longctx import run_needle

    with cli_errors():
        settings = load_settings(data_dir)
        folder = essays or settings.datasets_dir / ESSAYS
        if not folder.is_dir():
            raise FileNotFoundError(f"no essays folder {str(folder)!r}")
        lengths, points = parse_ints(tokens, "--tokens"), parse_depths(depths)
        tools = memory_tools(settings)
        with staged_progress() as progress:
            result = run_needle(tokens=lengths, needles=needles, depths=points,
                                budget=budget or settings.memory.budget, essays_dir=folder,
                                repeats=repeats, progress=partial(progress, f"needle x{needles}"),
                                **tools)
        _write(out, f"needle-{needles}", result)
        emit(result, as_json, _print_summary)


@bench_app.command("longctx")
def longctx(
    file: Annotated[Path, typer.Argument(help="passkey zip/jsonl, kv-retrieval or LongEval lines "
                                              "jsonl.gz (a path, or a name under "
                                              "<datasets_dir>/longctx)")],
    limit: Annotated[int | None, typer.Option(min=1, help="First N cases (per passkey length); "
                                              "default all.")] = None,
    budget: BudgetOption = None,
    repeats: RepeatsOption = 1,
    out: OutOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """InfiniteBench passkey, lost-in-the-middle kv-retrieval, LongEval lines over memory blocks."""
    from eval.longctx import run_longctx

    with cli_errors():
        settings = load_settings(data_dir)
        path = find_dataset(settings, file)
        tools = memory_tools(settings)
        with staged_progress() as progress:
            try:
                result = run_longctx(path, limit=limit, budget=budget or settings.memory.budget,
                                     repeats=repeats, progress=partial(progress, path.name), **tools)
            except ValueError as exc:  # unknown file kind, or gold text missing from a case
                raise InvalidInputError(str(exc)) from exc
        _write(out, f"longctx-{path.name.split('.')[0]}", result)
        emit(result, as_json, _print_summary)
