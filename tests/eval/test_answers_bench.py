"""EM/F1 by question kind and the published reader numbers (`bench multihop --answers`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from eval.answers_bench import answer_breakdown, published_reference
from eval.datasets import Question


def q(qid: str, text: str, *answers: str) -> Question:
    return Question(qid, text, answers, ("p",))


@pytest.mark.unit
def test_breakdown_by_kind() -> None:
    questions = [q("1", "Where was Ann born?", "Cork"), q("2", "Who wrote it?", "Bo Li"),
                 q("3", "Which film came out first, A or B?", "B"),
                 q("4", "Are Ann and Bo both poets?", "yes")]
    rows = [{"prediction": "cork"}, {"prediction": "Bo"}, {"prediction": "A"},
            {"prediction": "yes"}]
    got = answer_breakdown(questions, rows)
    assert got["n_entity"] == 2 and got["EM_entity"] == 0.5
    assert got["F1_entity"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-4)
    assert (got["EM_choice"], got["n_choice"]) == (0.0, 1)
    assert (got["EM_yesno"], got["F1_yesno"]) == (1.0, 1.0)
    assert "ask_ms_p50" not in got  # no timings given
    with pytest.raises(ValueError, match="rows"):
        answer_breakdown(questions, rows[:2])
    with pytest.raises(ValueError, match="no prediction"):
        answer_breakdown(questions[:1], [{}])


@pytest.mark.unit
def test_ask_latency_is_retrieval_plus_answer() -> None:
    questions = [q(str(n), "Who wrote it?", "Bo") for n in range(3)]
    rows = [{"prediction": "Bo", "latency_ms": r, "answer_ms": a}
            for r, a in ((10.0, 5.0), (20.0, 10.0), (100.0, 50.0))]
    got = answer_breakdown(questions, rows)
    assert got["ask_ms_p50"] == 30.0 and got["answer_ms_p50"] == 10.0
    assert got["ask_ms_p95"] == pytest.approx(138.0)


@pytest.mark.unit
def test_published_reference() -> None:
    assert published_reference("2wiki_dev_657")["EM"] == 0.466
    assert published_reference("musique_train_100")["F1"] == 0.298
    assert published_reference("hotpotqa_train_100") is None


@pytest.mark.integration
def test_bench_answers_reports_kinds(tmp_path: Path) -> None:
    data = Path(__file__).resolve().parents[1] / "data" / "bench"
    result = CliRunner().invoke(app, ["bench", "multihop", str(data), "--retrievers", "bm25",
                                      "--cutoffs", "1,2", "--answers", "--json",
                                      "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["results"]["bm25"]
    assert "EM" in metrics and sum(v for k, v in metrics.items() if k.startswith("n_")) == 3
    assert metrics["ask_ms_p50"] >= metrics["latency_ms_p50"] > 0
