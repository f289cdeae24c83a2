"""Benchmarks as background jobs (`POST /v1/benchmarks`).

A benchmark names a dataset in the server's datasets folder (by name, never by path) or
an uploaded one, saved under the data dir. The job's payload is the request; its result
is the object `ragmem bench ... --json` prints, and its report (`eval.report`:
results.json, report.md, recall.png) is written to `<data_dir>/benchmarks/<job id>/`
before the job is marked done.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from eval.datasets import Dataset, load_beir, load_multihop
from eval.report import write_report
from eval.runner import run_benchmark
from rag.errors import InvalidInputError, NotFoundError
from rag.service.core import RagService

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
REPORT_FILES = {"json": "results.json", "markdown": "report.md", "png": "recall.png"}


def report_dir(data_dir: Path, job_id: str) -> Path:
    """The folder holding a benchmark job's report.

    Raises:
        InvalidInputError: for an id that is not a plain token (it becomes a folder name).
    """
    if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
        raise InvalidInputError(f"invalid job id {job_id!r}")
    return Path(data_dir) / "benchmarks" / job_id


def available_datasets(datasets_dir: Path) -> dict[str, dict[str, str]]:
    """Datasets in the server's folder: name -> {"kind", "path"}."""
    found: dict[str, dict[str, str]] = {}
    for kind, marker in (("multihop", "questions.json"), ("beir", "corpus.jsonl")):
        folder = datasets_dir / kind
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if (path / marker).is_file():
                    found[path.name] = {"kind": kind, "path": str(path)}
    return found


def resolve_dataset(datasets_dir: Path, name: str) -> dict[str, str]:
    """The dataset called `name` (a plain name, looked up, never joined as a path).

    Raises:
        InvalidInputError: for a name that is not plain. NotFoundError: for an unknown one.
    """
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInputError(f"invalid dataset name {name!r}")
    datasets = available_datasets(datasets_dir)
    if name not in datasets:
        raise NotFoundError(f"dataset {name!r} not found; available: {', '.join(datasets) or 'none'}")
    return datasets[name]


def load_for_job(payload: dict[str, Any]) -> Dataset:
    """Load the dataset a benchmark job's payload names."""
    path = Path(payload["path"])
    if payload["kind"] == "beir":
        return load_beir(path, split=payload.get("split", "test"), name=payload.get("name"))
    return load_multihop(path, name=payload.get("name"))


def run_benchmark_job(service: RagService, job_id: str) -> None:
    """Run a queued benchmark job, reporting progress per stage."""
    payload = service.store.get_job(job_id)["payload"]

    def work(report: Any) -> dict[str, Any]:
        def progress(stage: str, done: int, total: int) -> None:
            service.store.update_job(job_id, stage=stage)
            report(done, total)

        result = run_benchmark(service, load_for_job(payload), payload["retrievers"],
                               ks=payload.get("k", [1, 2, 5, 10]), limit=payload.get("limit"),
                               progress=progress)
        service.store.update_job(job_id, stage="writing report")
        # written before `work` returns, so a job that reads done always has its files
        write_report(report_dir(service.settings.data_dir, job_id), result)
        return result

    service.run_tracked(job_id, work)
