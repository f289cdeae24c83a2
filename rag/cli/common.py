"""Options, output and error handling shared by every command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rag.errors import InvalidInputError, NotFoundError, RagmemError

if TYPE_CHECKING:  # rag.settings (pydantic-settings) is imported when a command needs it
    from rag.settings import Settings

DEFAULT_COLLECTION = "default"
"""The collection commands use without `--collection` (the same as rag.service.core's)."""

DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env RAGMEM_DATA_DIR; default ./ragmem-data)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
CollectionOption = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]
TopKOption = Annotated[int | None, typer.Option(
    "--top-k", "-k", help="How many results to return (default: settings). Everywhere in the "
                          "CLI, -k means top-k (bench cut-offs are --cutoffs).")]

console = Console(stderr=True)

# The services opened inside the current `cli_errors()` block, closed when it ends (a
# context variable, so in-process runs such as CliRunner tests never share it).
_opened: ContextVar[list[Any] | None] = ContextVar("ragmem_cli_services", default=None)



def parse_ints(text: str, what: str) -> list[int]:
    """Comma-separated positive integers (`32000,128000`; `32k` and `1m` are accepted).

    Raises:
        InvalidInputError: on anything else.
    """
    values = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        scale = {"k": 1000, "m": 1_000_000}.get(part[-1], 1)
        try:
            values.append(int(float(part[:-1] if scale > 1 else part) * scale))
        except ValueError as exc:
            raise InvalidInputError(f"{what} must be comma-separated integers, got {text!r}") from exc
    if not values or min(values) < 1:
        raise InvalidInputError(f"{what} needs positive integers, got {text!r}")
    return values


def load_settings(data_dir: Path | None) -> Settings:
    """Settings from the environment, with `--data-dir` on top."""
    from rag.settings import Settings, offline_environment

    offline_environment()
    return Settings(data_dir=data_dir) if data_dir else Settings()


def open_service(data_dir: Path | None) -> Any:
    """A ready service over the data dir (imports the heavy modules lazily).

    It holds the data dir's lock until the enclosing `cli_errors()` block ends (then it is
    closed), so a command fails clearly while a server or another command has the dir.
    """
    from rag.service.core import RagService

    service = RagService(load_settings(data_dir)).open()
    opened = _opened.get()
    if opened is not None:
        opened.append(service)
    return service


def emit(data: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    """Print `data` as JSON on stdout, or with the human formatter."""
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n")
    else:
        human(data)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn domain errors into one clear line on stderr and a non-zero exit code.

    Services opened inside the block are closed when it ends (their data dir lock too).
    """
    opened: list[Any] = []
    token = _opened.set(opened)
    try:
        yield
    except NotFoundError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")  # `.[ray]` is no markup
        raise typer.Exit(3) from exc
    except (RagmemError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")  # `.[ray]` is no markup
        raise typer.Exit(2) from exc
    finally:
        _opened.reset(token)
        for service in opened:
            service.close()


def retriever_help() -> str:
    """`--retriever`'s help: every name in the retriever registry (one source)."""
    from rag.retrieval.base import RETRIEVER_NAMES

    return f"{', '.join(RETRIEVER_NAMES)} (default: settings, hybrid)"


@contextmanager
def staged_progress() -> Iterator[Callable[[str, int, int], None]]:
    """Rich progress bars on stderr, one per stage; yields `progress(stage, done, total)`."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress
