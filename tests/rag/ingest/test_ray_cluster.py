"""`ragmem ingest --engine ray` on a real Ray cluster (issue 15): a head and one extra
worker node started with `ray start` on loopback, against the local path on the same
corpus: the same documents, chunk ids and texts, vectors within 1e-5, the same top-10
for 50 queries; a job killed mid-way and rerun ends with every passage once."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import rag.service.core
from rag.settings import Settings
from rag.storage.store import Store
from tests.rag.service.test_service import corpus_records

ray = pytest.importorskip("ray", reason="the ray extra: pip install -e '.[ray]'")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
INGEST_DATA = REPO / "tests" / "data" / "ingest"
RECORDS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    return subprocess.run([str(BIN / "ray"), *args], capture_output=True, text=True, timeout=180,
                          env=env, check=False)


@pytest.fixture(scope="module")
def cluster():
    """A head (1 CPU) and a second node (1 CPU) on 127.0.0.1; stopped whatever happens."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    # A local ray.init() elsewhere leaves ~/.ray/auth_token, which turns token auth on for
    # `ray start`; this loopback test cluster runs without it (drivers here and below too).
    patch = pytest.MonkeyPatch()
    patch.setenv("RAY_AUTH_MODE", "disabled")
    try:
        head = _ray("start", "--head", f"--port={port}", "--num-cpus=1",
                    "--node-ip-address=127.0.0.1", "--include-dashboard=false",
                    "--disable-usage-stats")
        assert head.returncode == 0, head.stdout + head.stderr
        node = _ray("start", f"--address={address}", "--num-cpus=1", "--node-ip-address=127.0.0.1")
        assert node.returncode == 0, node.stdout + node.stderr
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _ray("stop", "--force")
        patch.undo()


@pytest.fixture(autouse=True)
def fresh_driver(cluster):
    """Each test joins the cluster as a new driver (the one before leaves with its actors)."""
    yield
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    """A folder of md/html/jsonl files: RECORDS generated records (varied, some long enough
    for several chunks), the foundation corpus, the parser fixtures, and one bad PDF."""
    root = tmp_path_factory.mktemp("ray-corpus")
    base = corpus_records()
    sentences = [s.strip() + "." for r in base for s in r["text"].split(".") if s.strip()]
    records = []
    for i in range(RECORDS):
        picked = [sentences[(i * 7 + j * 3) % len(sentences)] for j in range(1 + i % 9)]
        records.append({"id": f"r{i}", "title": f"{base[i % len(base)]['title']} {i}",
                        "text": f"Record {i}. " + " ".join(picked), "metadata": {"n": i}})
    (root / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records),
                                        encoding="utf-8")
    for name in ("sample.md", "sample.html", "sample.jsonl", "garbage.pdf"):
        shutil.copy(INGEST_DATA / name, root / name)
    (root / "dup.md").write_text((INGEST_DATA / "sample.md").read_text(encoding="utf-8"),
                                 encoding="utf-8")  # the same text twice: a duplicate
    return [root]


@pytest.fixture(scope="module")
def cli(embedder):
    """`ragmem ...` in this process, every service reusing the loaded model."""
    patch = pytest.MonkeyPatch()
    patch.setattr(rag.service.core, "RagService",
                  functools.partial(rag.service.core.RagService, embedder=embedder))
    from api.cli import app

    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args), catch_exceptions=False)
    patch.undo()


def ingest_args(corpus: list[Path], data_dir: Path, *extra: str) -> list[str]:
    return ["ingest", *map(str, corpus), "--collection", "kb", "--data-dir", str(data_dir),
            "--json", *extra]


def _summary(result) -> dict:
    assert result.exit_code == 2, result.output  # garbage.pdf fails, the rest is stored
    return json.loads(result.output[result.output.index("{"):])


def state(data_dir: Path, embedder, queries: list[str] | None = None) -> dict:
    service = rag.service.core.RagService(Settings(data_dir=data_dir), embedder=embedder).open()
    try:
        kb = service.collection("kb")
        ids = service.store.chunk_ids(kb)
        rows = service.store.get_chunks(ids)
        docs = service.store.list_documents(kb, limit=10_000)
        out = {
            "documents": sorted((d["content_hash"], d["title"], d["source"],
                                 json.dumps(d["metadata"]), d["chars"], d["chunks"]) for d in docs),
            "chunks": [(i, rows[i].text, rows[i].title, rows[i].start, rows[i].end) for i in ids],
            "vectors": service.indexes.get(kb).dense.vectors_for(ids),
            "status": {d["status"] for d in docs}}
        if queries:
            out["top10"] = [[p.chunk_id for p in service.retrieve(kb, q, retriever=r, top_k=10).passages]
                            for q in queries for r in ("hybrid", "dense")]
        return out
    finally:
        service.close()


@pytest.fixture(scope="module")
def local(cli, corpus, tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("local-data")
    summary = _summary(cli(*ingest_args(corpus, data_dir)))
    return data_dir, summary


def queries_from(chunks: list[tuple]) -> list[str]:
    """50 queries: a few words from the middle of 50 chunks (spread over the corpus)."""
    step = max(1, len(chunks) // 50)
    picked = [chunks[i][1].split() for i in range(0, len(chunks), step)][:50]
    return [" ".join(words[len(words) // 3:len(words) // 3 + 6]) or "record" for words in picked]


def test_ray_ingest_equals_local(cli, cluster, corpus, local, tmp_path, embedder):
    local_dir, local_summary = local
    ray_dir = tmp_path / "ray-data"
    summary = _summary(cli(*ingest_args(corpus, ray_dir, "--engine", "ray", "--address", cluster,
                                        "--workers", "2", "--commit-chunks", "16")))
    assert [d["status"] for d in summary["documents"]] == [d["status"] for d in local_summary["documents"]]
    assert "duplicate" in {d["status"] for d in summary["documents"]}
    assert [f["file"] for f in summary["failed"]] == [f["file"] for f in local_summary["failed"]]
    first = state(local_dir, embedder)
    queries = queries_from(first["chunks"])
    assert len(queries) == 50
    expected, got = state(local_dir, embedder, queries), state(ray_dir, embedder, queries)
    assert got["documents"] == expected["documents"]
    assert summary["embedded"] == len(expected["chunks"])  # every stored vector came from Ray
    assert got["chunks"] == expected["chunks"]
    np.testing.assert_allclose(got["vectors"], expected["vectors"], atol=1e-5)
    assert got["top10"] == expected["top10"]
    assert got["status"] == {"indexed"}
    nodes = [n for n in ray.nodes() if n["Alive"]]
    assert len(nodes) == 2  # the job ran on the two-node cluster


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        store = Store(db)
        found = store.list_collections()
        store.close()
        return int(found[0]["chunks"]) if found else 0
    except Exception:  # noqa: BLE001 - the database is being created
        return 0


def test_killed_ray_job_rerun_stores_every_passage_once(cli, cluster, corpus, local, tmp_path,
                                                        embedder):
    data_dir = tmp_path / "killed"
    total = len(state(local[0], embedder)["chunks"])
    args = [str(BIN / "ragmem"), *ingest_args(corpus, data_dir, "--engine", "ray", "--address",
                                              cluster, "--commit-chunks", "2")]
    job = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    db = data_dir / "ragmem.sqlite3"
    deadline = time.monotonic() + 240
    try:
        while job.poll() is None and _count(db) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(job.pid, signal.SIGKILL)
    finally:
        job.wait(30)
    before = _count(db)
    assert 0 < before < total, f"the kill should land mid-way: {before} of {total} chunks"
    summary = _summary(cli(*ingest_args(corpus, data_dir, "--engine", "ray", "--address", cluster)))
    # documents stored before the kill were not embedded again (their hashes were known)
    assert summary["embedded"] == total - before
    got, expected = state(data_dir, embedder), state(local[0], embedder)
    texts = [(c[1], c[2]) for c in got["chunks"]]
    assert sorted(texts) == sorted((c[1], c[2]) for c in expected["chunks"])  # each once
    assert len(set(got["documents"])) == len(got["documents"]) == len(expected["documents"])
    assert len(got["vectors"]) == total and got["status"] == {"indexed"}


def test_server_jobs_over_the_threshold_embed_on_ray(cluster, tmp_path, embedder):
    """RAGMEM_INDEX__ENGINE=ray: a large index job embeds on the cluster (the job's result
    says so, its progress reaches its total), a small one stays local; same vectors."""
    index = {"engine": "ray", "ray_address": cluster, "ray_threshold": 10,
             "background_merges": False}
    service = rag.service.core.RagService(Settings(data_dir=tmp_path, index=index),
                                          embedder=embedder).open()
    try:
        kb = service.collection("kb", create=True)
        big, _ = service.add_documents(kb, service.parse_records(corpus_records()))
        service.run_job(big)
        job = service.store.get_job(big)
        ids = service.store.chunk_ids(kb)
        assert job["status"] == "done" and job["done"] == job["total"] == len(ids) >= 10
        assert job["result"] == {"engine": "ray", "embedded": len(ids), "added": len(ids)}
        rows = service.store.get_chunks(ids)
        local = embedder.encode([f"{rows[i].title}\n{rows[i].text}" if rows[i].title else rows[i].text
                                 for i in ids])
        np.testing.assert_allclose(service.indexes.get(kb).dense.vectors_for(ids), local, atol=1e-5)
        small, _ = service.add_documents(kb, service.parse_records(
            [{"id": "tiny", "title": "Tiny", "text": "A short note about lighthouses."}]))
        service.run_job(small)
        assert service.store.get_job(small)["result"] is None  # under the threshold: local
        assert service.retrieve(kb, "lighthouses", retriever="bm25").passages[0].document_id == "tiny"
    finally:
        service.close()


def test_bench_ingest_reports_both_engines_on_the_same_files(cli, cluster, tmp_path):
    corpus = REPO / "tests" / "data" / "foundation" / "corpus.jsonl"
    result = cli("bench", "ingest", str(corpus), "--engine", "local,ray", "--workers", "1",
                 "--address", cluster, "--json", "--out", str(tmp_path), "--data-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert [(r["engine"], r["workers"]) for r in report["runs"]] == [
        ("local", 1), ("ray", 1), ("local", 1)]
    assert {r["chunks"] for r in report["runs"]} == {len(corpus_records())}
    assert report["ray"]["1"]["overhead"] == round(report["ray"]["1"]["seconds"] / report["local_s"] - 1, 3)
    assert json.loads((tmp_path / "ingest.json").read_text())["runs"] == report["runs"]
