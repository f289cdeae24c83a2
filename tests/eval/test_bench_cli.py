"""The `ragmem bench multihop --json` contract, end to end on a tiny hand-made set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "bench"


def bench(tmp_path: Path, *args: str) -> dict:
    result = CliRunner().invoke(app, ["bench", "multihop", str(DATA), "--data-dir",
                                      str(tmp_path / "data"), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_contract_reports_and_cache(tmp_path) -> None:
    out = tmp_path / "out"
    first = bench(tmp_path, "--retrievers", "bm25,dense,hybrid", "--cutoffs", "1,2,5",
                  "--out", str(out), "--answers")
    assert first["dataset"] == "bench" and first["n_questions"] == 3
    assert first["n_passages"] == 6
    assert set(first["results"]) == {"bm25", "dense", "hybrid"}
    for metrics in first["results"].values():
        for key in ("R@1", "R@2", "R@5", "AR@5", "latency_ms_p50", "latency_ms_p95", "EM", "F1"):
            assert key in metrics
        assert metrics["R@5"] == 1.0  # six passages: every gold one is in the top 5
        assert 0.0 <= metrics["F1"] <= 1.0
    # q1's gold passage states the answer; any retriever puts it first
    assert all(m["R@1"] >= 1 / 3 for m in first["results"].values())
    assert {p.name for p in out.iterdir()} >= {"results.json", "report.md", "recall.png"}
    assert json.loads((out / "results.json").read_text())["results"] == first["results"]
    assert first["meta"]["cached"] is False

    again = bench(tmp_path, "--retrievers", "bm25", "--cutoffs", "1,2,5")
    assert again["meta"]["cached"] is True  # same corpus and embedder: no re-embedding
    assert again["results"]["bm25"]["R@2"] == first["results"]["bm25"]["R@2"]


def test_unknown_retriever_fails_before_ingesting(tmp_path) -> None:
    result = CliRunner().invoke(app, ["bench", "multihop", str(DATA), "--data-dir",
                                      str(tmp_path / "data"), "--retrievers", "nope"])
    assert result.exit_code == 2
    assert "unknown retriever 'nope'" in result.output


def test_bench_beir_shows_progress_on_stderr_and_json_on_stdout(tmp_path) -> None:
    folder = Path(__file__).resolve().parents[1] / "data" / "eval" / "beir"
    result = CliRunner().invoke(app, ["bench", "beir", str(folder), "--data-dir",
                                      str(tmp_path / "data"), "--retrievers", "bm25",
                                      "--cutoffs", "1,5", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"]["bm25"]  # stdout: the JSON only
    for stage in ("loading dataset", "loading model", "storing", "indexing", "bm25"):
        assert stage in result.stderr, (stage, result.stderr)
