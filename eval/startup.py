"""`ragmem bench startup`: wall time of CLI commands from process start to exit (issue 19.7).

Each command runs in a fresh interpreter (`python -c "from api.cli import main; main()"`,
as the `ragmem` script does) against a small prepared data dir, for `rounds` rounds. With
`--against DIR` (another checkout of the project, e.g. `git archive <commit> | tar -x`) the
same commands run from that tree too, interleaved with ours command by command, so a before
and an after share one run and one machine load. Every run also reports which heavy modules
its process had imported when it exited.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.cli.common import JsonOption, cli_errors, console, emit, staged_progress

HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime", "faiss", "spacy",
         "fastapi", "scipy", "bm25s")
# The `ragmem` console script, plus an exit hook that prints the heavy modules on stderr.
_LAUNCH = ("import atexit, sys\n"
           "atexit.register(lambda: sys.stderr.write('\\nRAGMEM_HEAVY=' + ','.join("
           "m for m in {heavy!r} if m in sys.modules) + '\\n'))\n"
           "from api.cli import main\nmain()\n")
DOCUMENT = ("The lighthouse keeper lit the lamp every night at dusk.\n\n"
            "Penguins live in the southern hemisphere and cannot fly.\n")


def commands(data_dir: Path) -> dict[str, list[str]]:
    """The four commands issue 19.7 names, by label, and a first answer with the default
    retriever and generator (the one that loads the embedding model)."""
    d = ["--data-dir", str(data_dir)]
    return {"--help": ["--help"],
            "collections list": ["collections", "list", *d],
            "documents list": ["documents", "list", *d],
            "retrieve --retriever bm25": ["retrieve", "lighthouse", "--retriever", "bm25", *d],
            "ask (defaults)": ["ask", "Who lit the lamp?", *d],
            "ask, onnx backend": ["ask", "Who lit the lamp?", *d]}


# Settings a command runs under (the rest of the environment's RAGMEM_* are dropped).
COMMAND_ENV = {"ask, onnx backend": {"RAGMEM_INDEX__EMBEDDER_BACKEND": "onnx"}}


def prepare_data_dir(data_dir: Path, embedder: Any = None) -> None:
    """A data dir with one small document in the `default` collection (loads the model once,
    in this process, not in the timed ones)."""
    from rag.service.core import RagService
    from rag.settings import Settings

    service = RagService(Settings(data_dir=data_dir), embedder=embedder).open()
    try:
        collection = service.create_collection("default")
        job, _ = service.add_documents(collection, service.parse_records(
            [{"title": "notes", "text": DOCUMENT}]))
        service.run_job(job)
    finally:
        service.close()


# The same, as a script run by each tree's own code (an older tree's schema may be older).
_PREPARE = ("import sys\nfrom pathlib import Path\n"
            "from rag.service.core import RagService\nfrom rag.settings import Settings\n"
            "service = RagService(Settings(data_dir=Path(sys.argv[1]))).open()\n"
            "try:\n    c = service.create_collection('default')\n"
            "    job, _ = service.add_documents(c, service.parse_records("
            "[{'title': 'notes', 'text': sys.argv[2]}]))\n    service.run_job(job)\n"
            "finally:\n    service.close()\n")


def prepare_in(tree: Path, data_dir: Path) -> None:
    """`prepare_data_dir` with `tree`'s code, in a subprocess."""
    done = subprocess.run([sys.executable, "-c", _PREPARE, str(data_dir), DOCUMENT], cwd=tree,
                          env=_env(tree), capture_output=True, text=True, timeout=1200)
    if done.returncode:
        raise RuntimeError(f"preparing a data dir with {tree} failed: {done.stderr[-800:]}")


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGMEM_")}
    return env | {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(tree), "COLUMNS": "100"}


def time_command(args: Sequence[str], tree: Path,
                 env: dict[str, str] | None = None) -> dict[str, Any]:
    """One fresh-process run of the CLI from `tree` (with `env` added to its environment):
    seconds, exit code, heavy modules."""
    code = _LAUNCH.format(heavy=HEAVY)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=tree,
                          env=_env(tree) | (env or {}),
                          capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    heavy = [line.split("=", 1)[1] for line in done.stderr.splitlines()
             if line.startswith("RAGMEM_HEAVY=")]
    return {"seconds": seconds, "code": done.returncode,
            "heavy": [m for m in (heavy[-1].split(",") if heavy else []) if m],
            "error": done.stderr[-500:] if done.returncode else ""}


def run_startup(trees: dict[str, Path], data_dirs: dict[str, Path], *, rounds: int = 3,
                progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Time every command from every tree (each on its own data dir), interleaved, `rounds`
    times; min/median and the ratio of each tree's median to the first tree's."""
    todo = {name: commands(data_dirs[name]) for name in trees}
    labels = list(commands(Path(".")))
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {t: {c: [] for c in labels} for t in trees}
    total, done = rounds * len(labels) * len(trees), 0
    for label in labels:  # once untimed: the onnx export, the page cache
        for name, tree in trees.items():
            time_command(todo[name][label], tree, COMMAND_ENV.get(label))
    for _ in range(rounds):
        for label in labels:
            for name, tree in trees.items():
                runs[name][label].append(time_command(todo[name][label], tree,
                                                      COMMAND_ENV.get(label)))
                done += 1
                if progress:
                    progress("startup", done, total)
    first = next(iter(trees))
    out: dict[str, Any] = {"rounds": rounds, "cpus": os.cpu_count(),
                           "load_avg": round(os.getloadavg()[0], 1), "trees": {}}
    for name in trees:
        rows = {}
        for label, results in runs[name].items():
            seconds = [r["seconds"] for r in results]
            rows[label] = {"median_s": round(statistics.median(seconds), 3),
                           "min_s": round(min(seconds), 3),
                           "runs_s": [round(s, 2) for s in seconds],
                           "exit_codes": sorted({r["code"] for r in results}),
                           "heavy_modules": sorted({m for r in results for m in r["heavy"]})}
            errors = [r["error"] for r in results if r["error"]]
            if errors:
                rows[label]["error"] = errors[-1]
            if name != first:
                ours = statistics.median(r["seconds"] for r in runs[first][label])
                rows[label][f"{first}_speedup"] = round(statistics.median(seconds) / ours, 2)
        out["trees"][name] = {"path": str(trees[name]), "commands": rows}
    return out


def startup_command(
    against: Annotated[Path | None, typer.Option(
        "--against", help="Another checkout of the project (e.g. an older commit, from git "
                          "archive) to time side by side, interleaved.")] = None,
    rounds: Annotated[int, typer.Option(min=1, help="Runs of each command per tree.")] = 3,
    out: Annotated[Path | None, typer.Option("--out", help="Write startup.json here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Start-up wall time of --help, collections list, documents list, a bm25 retrieve and
    a first answer (defaults; onnx backend) in a fresh process each, after one untimed run
    of each; the heavy modules each one imported."""
    with cli_errors():
        if against is not None and not (against / "api" / "cli.py").is_file():
            raise FileNotFoundError(f"{against}: not a checkout of this project (no api/cli.py)")
        trees = {"this": Path(__file__).resolve().parents[1]}
        if against is not None:
            trees["against"] = against.resolve()
        with tempfile.TemporaryDirectory() as tmp, staged_progress() as progress:
            data_dirs = {name: Path(tmp) / name for name in trees}
            for n, (name, tree) in enumerate(trees.items()):
                progress("preparing data dirs", n, len(trees))
                prepare_in(tree, data_dirs[name])
            progress("preparing data dirs", len(trees), len(trees))
            result = run_startup(trees, data_dirs, rounds=rounds, progress=progress)
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "startup.json").write_text(json.dumps(result, indent=1))
        emit(result, as_json, lambda r: console.print_json(data=r))
