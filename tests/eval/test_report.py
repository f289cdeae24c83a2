"""Tests for eval.report: files written, JSON round-trip, table shape, PNG validity."""

from __future__ import annotations

import json
import math

import pytest

from eval.report import markdown_table, metric_columns, write_report

pytestmark = pytest.mark.unit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

MULTIHOP = {
    "dataset": "musique_train_100",
    "n_questions": 100,
    "n_passages": 1890,
    "results": {
        "bm25": {
            "R@1": 0.21,
            "R@2": 0.3912,
            "R@5": 0.5,
            "AR@5": 0.2,
            "latency_ms_p50": 3.14159,
            "latency_ms_p95": 7.96,
        },
        "dense": {
            "R@1": 0.3,
            "R@2": 0.47,
            "R@5": 0.62,
            "AR@5": 0.33,
            "latency_ms_p50": 12.0,
            "latency_ms_p95": 20.55,
        },
    },
    "meta": {"embedder": "all-MiniLM-L6-v2", "k": [1, 2, 5]},
}

BEIR = {
    "dataset": "scifact",
    "n_questions": 300,
    "n_passages": 5183,
    "results": {"bm25": {"nDCG@10": 0.665, "MRR@10": 0.63}, "dense": {"nDCG@10": 0.645}},
}


def _rows(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]


def test_metric_columns_order():
    result = {
        "results": {
            "x": {
                "latency_ms_p95": 1,
                "AR@5": 1,
                "R@10": 1,
                "R@2": 1,
                "F1": 1,
                "custom": 1,
                "nDCG@10": 1,
                "EM": 1,
            }
        }
    }
    assert metric_columns(result) == [
        "R@2",
        "R@10",
        "AR@5",
        "nDCG@10",
        "EM",
        "F1",
        "latency_ms_p95",
        "custom",
    ]


def test_markdown_table_rows_and_columns():
    rows = _rows(markdown_table(MULTIHOP))
    assert rows[0] == ["retriever", "R@1", "R@2", "R@5", "AR@5", "p50 ms", "p95 ms"]
    assert rows[1][0] == "---" and len(rows[1]) == 7
    assert rows[2] == ["bm25", "0.210", "0.391", "0.500", "0.200", "3.1", "8.0"]
    assert rows[3] == ["dense", "0.300", "0.470", "0.620", "0.330", "12.0", "20.6"]
    assert len(rows) == 4


def test_markdown_table_missing_and_odd_values():
    result = {"results": {"a|b": {"nDCG@10": 0.5, "MRR@10": math.nan}, "c": {"nDCG@10": None}}}
    rows = markdown_table(result).splitlines()
    assert rows[2] == "| a\\|b | 0.500 | — |"
    assert rows[3] == "| c | — | — |"


def test_markdown_table_rejects_bad_results():
    with pytest.raises(ValueError, match="results"):
        markdown_table({"results": {"bm25": 0.5}})
    with pytest.raises(ValueError, match="results"):
        markdown_table({})


@pytest.mark.parametrize("result", [MULTIHOP, BEIR, {"dataset": "none", "results": {"x": {}}}])
def test_write_report_files(tmp_path, result):
    out = tmp_path / "nested" / "out"
    paths = write_report(out, result)
    assert set(paths) == {"json", "markdown", "png"}
    assert paths["json"].name == "results.json" and paths["markdown"].name == "report.md"
    assert paths["png"].name == "recall.png"
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == json.loads(json.dumps(result))
    png = paths["png"].read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 1000
    assert sorted(p.name for p in out.iterdir()) == ["recall.png", "report.md", "results.json"]


def test_report_markdown_contents(tmp_path):
    text = write_report(tmp_path, MULTIHOP)["markdown"].read_text(encoding="utf-8")
    assert "# Benchmark: musique_train_100" in text
    assert "- n_questions: 100" in text and "- n_passages: 1890" in text
    assert "- embedder: all-MiniLM-L6-v2" in text and "- k: [1, 2, 5]" in text
    assert markdown_table(MULTIHOP) in text


def test_write_report_non_finite_becomes_null(tmp_path):
    result = {"dataset": "d", "results": {"bm25": {"R@1": math.inf, "R@2": 0.5}}}
    paths = write_report(tmp_path, result)
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["results"]["bm25"] == {"R@1": None, "R@2": 0.5}
    assert paths["png"].read_bytes().startswith(PNG_MAGIC)


def test_write_report_overwrites(tmp_path):
    write_report(tmp_path, BEIR)
    paths = write_report(tmp_path, MULTIHOP)
    assert json.loads(paths["json"].read_text())["dataset"] == "musique_train_100"
    assert not list(tmp_path.glob(".*.tmp"))
