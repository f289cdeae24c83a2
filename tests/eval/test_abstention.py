"""eval/abstention.py: out-of-corpus selection by gold titles, the rates, the table."""

from __future__ import annotations

import pytest

from eval.abstention import dataset_folders, markdown, rates, select_out_of_corpus, totals
from eval.datasets import Dataset, Passage, Question

pytestmark = pytest.mark.unit


def dataset(name: str, titles: list[str], questions: list[tuple[str, list[str]]]) -> Dataset:
    passages = [Passage(str(n), t, f"text of {t}") for n, t in enumerate(titles)]
    return Dataset(name, passages, [Question(f"{name}{n}", q, ("a",), tuple(g))
                                    for n, (q, g) in enumerate(questions)], "multihop")


def test_out_of_corpus_questions_have_no_gold_title_in_the_corpus():
    target = dataset("t", ["Paris", "Mount  Etna"], [("own?", ["0"])])
    other = dataset("o", ["paris", "Berlin", "mount etna", "Rome"],
                    [("Paris too?", ["0", "1"]), ("Berlin?", ["1"]), ("Etna?", ["2"]),
                     ("Rome?", ["3"]), ("no gold?", [])])
    texts, counts = select_out_of_corpus(target, [target, other])
    assert texts == ["Berlin?", "Rome?"]  # "paris" and "mount etna" match despite case/space
    assert counts == {"o": {"kept": 2, "dropped_overlap": 3}}
    first, counts = select_out_of_corpus(target, [other], per_set=1)
    assert first == ["Berlin?"] and counts["o"]["kept"] == 1


def test_rates_count_both_errors_and_who_abstained():
    own = [{"abstained": False}] * 19 + [{"abstained": True, "by": "generator"}]
    other = [{"abstained": True, "by": "evidence_check"}] * 9 + [{"abstained": False}]
    r = rates(own, other)
    assert r["answered_own"] == 0.95 and r["abstained_other"] == 0.9
    assert r["abstained_own_by"] == {"generator": 1} and r["abstained_other_by"] == {"evidence_check": 9}
    assert rates([], [])["answered_own"] is None


def test_totals_weigh_by_question_count_and_render():
    sets = {"a": {"results": {"hybrid": {"answered_own": 1.0, "abstained_other": 0.5, "n_own": 10,
                                         "n_other": 10}}},
            "b": {"results": {"hybrid": {"answered_own": 0.9, "abstained_other": 1.0, "n_own": 30,
                                         "n_other": 30}}}}
    t = totals(sets, ["hybrid"])["hybrid"]
    assert t == {"answered_own": 0.925, "abstained_other": 0.875, "n_own": 40, "n_other": 40}
    table = markdown({"sets": sets, "totals": {"hybrid": t}})
    assert "| a | hybrid | 100.0% | 50.0% | 10 | 10 |" in table and "| all | hybrid | 92.5%" in table


def test_dataset_folders(tmp_path):
    with pytest.raises(FileNotFoundError):
        dataset_folders(tmp_path)
    for name in ("b", "a", "c"):
        (tmp_path / name).mkdir()
        if name != "c":
            (tmp_path / name / "questions.json").write_text("[]")
            (tmp_path / name / "corpus.json").write_text("[]")
    assert [p.name for p in dataset_folders(tmp_path)] == ["a", "b"]
