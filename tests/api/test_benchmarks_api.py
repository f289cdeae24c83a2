"""/v1/benchmarks through a real server on loopback: a tiny benchmark job runs to done,
writes its report (results.json, report.md, recall.png) under the data dir, and serves
the recall plot; 404 for an unknown, another kind's, another key's or a failed job, 409
while queued or running."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from eval.jobs import report_dir
from rag.errors import InvalidInputError
from rag.service.core import RagService
from rag.settings import Settings
from tests.api.conftest import LiveServer, upload_json

pytestmark = pytest.mark.integration

BENCH_DATA = Path(__file__).resolve().parents[1] / "data" / "bench"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def bench_server(tmp_path_factory, embedder):
    """A server whose datasets folder holds the tiny multihop set (3 questions) as `tiny`."""
    root = tmp_path_factory.mktemp("bench-api")
    shutil.copytree(BENCH_DATA, root / "datasets" / "multihop" / "tiny")
    settings = Settings(data_dir=root / "data", datasets_dir=root / "datasets")
    live = LiveServer(settings, RagService(settings, embedder=embedder)).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def http(bench_server):
    with httpx.Client(base_url=bench_server.url, timeout=60) as client:
        yield client


def wait_benchmark(http: httpx.Client, job_id: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/v1/benchmarks/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise TimeoutError(f"benchmark {job_id} not finished after {timeout}s")


def test_a_finished_benchmark_serves_its_recall_plot(bench_server, http):
    started = http.post("/v1/benchmarks", json={"dataset": "tiny", "retrievers": ["bm25", "dense"],
                                                "k": [1, 2, 5]})
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    job = wait_benchmark(http, job_id)
    assert job["status"] == "done", job["error"]

    plot = http.get(f"/v1/benchmarks/{job_id}/recall.png")
    assert plot.status_code == 200, plot.text
    assert plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(PNG_MAGIC) and len(plot.content) > 1000

    # the whole report sits in the job's folder under the data dir
    folder = report_dir(bench_server.service.settings.data_dir, job_id)
    assert folder.parent == bench_server.service.settings.data_dir / "benchmarks"
    assert (folder / "recall.png").read_bytes() == plot.content
    assert json.loads((folder / "results.json").read_text())["results"] == job["result"]["results"]
    markdown = (folder / "report.md").read_text()
    assert "# Benchmark: tiny" in markdown and "| bm25 |" in markdown and "R@5" in markdown


def test_the_recall_plot_is_404_unknown_and_409_until_done(bench_server, http):
    store = bench_server.service.store
    assert http.get("/v1/benchmarks/nope/recall.png").status_code == 404
    assert http.get(f"/v1/benchmarks/{'0' * 32}/recall.png").status_code == 404

    # a job of another kind is not a benchmark
    http.post("/v1/collections", json={"name": "plots"})
    ingest = upload_json(http, "plots", [{"id": "a", "text": "Paris is in France."}])["job_id"]
    assert http.get(f"/v1/benchmarks/{ingest}/recall.png").status_code == 404

    # queued and running benchmarks (made in the store, so no worker races the test)
    waiting = store.create_job(None, kind="benchmark", total=0, payload={})
    for state in ("queued", "running"):
        store.update_job(waiting, status=state)
        response = http.get(f"/v1/benchmarks/{waiting}/recall.png")
        assert response.status_code == 409, response.text
        assert state in response.json()["detail"]
    store.update_job(waiting, status="failed", error="boom")  # finished, with no plot
    failed = http.get(f"/v1/benchmarks/{waiting}/recall.png")
    assert failed.status_code == 404 and "failed" in failed.json()["detail"]

    # done, but with no report on disk (a job from before reports were written)
    store.update_job(waiting, status="done")
    missing = http.get(f"/v1/benchmarks/{waiting}/recall.png")
    assert missing.status_code == 404 and "no recall plot" in missing.json()["detail"]


def test_another_keys_benchmark_plot_is_404(auth_server, key_client):
    owner, other = key_client("plot-owner"), key_client("plot-other")
    store = auth_server.service.store
    job_id = store.create_job(None, kind="benchmark", total=0, payload={},
                              owner_key_id=owner.key.id)
    store.update_job(job_id, status="done")
    folder = report_dir(auth_server.service.settings.data_dir, job_id)
    folder.mkdir(parents=True)
    (folder / "recall.png").write_bytes(PNG_MAGIC + b"plot")
    assert owner.get(f"/v1/benchmarks/{job_id}/recall.png").content == PNG_MAGIC + b"plot"
    assert other.get(f"/v1/benchmarks/{job_id}/recall.png").status_code == 404
    assert httpx.get(f"{auth_server.url}/v1/benchmarks/{job_id}/recall.png").status_code == 401


@pytest.mark.parametrize("job_id", ["../x", "a/b", "", "x" * 129, "a b"])
def test_report_dir_takes_plain_ids_only(tmp_path, job_id):
    with pytest.raises(InvalidInputError, match="invalid job id"):
        report_dir(tmp_path, job_id)
