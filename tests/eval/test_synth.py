"""`ragmem synth`: template multi-hop questions whose gold passages hold the answer, in
the canonical format that `ragmem bench multihop` runs on (real spaCy, real bench)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from eval.datasets import Passage, load_multihop
from eval.synth import find_links, load_passages, resolve_pronoun, synthesize, write_set
from rag.errors import InvalidInputError

RECORDS = [
    {"id": "f1", "title": "Sleep, My Love", "text": "Sleep, My Love is a 1948 American film "
     "noir directed by Douglas Sirk. It stars Claudette Colbert."},
    {"id": "p1", "title": "Douglas Sirk", "text": "Douglas Sirk was a German film director. "
     "He was born in Hamburg in 1897. He died in Lugano."},
    {"id": "f2", "title": "The More the Merrier", "text": "The More the Merrier is a 1943 "
     "American comedy film directed by George Stevens."},
    {"id": "p2", "title": "George Stevens", "text": "George Stevens was an American film "
     "director. He was born in Oakland, California. He won the Academy Award twice."},
    {"id": "c1", "title": "Claudette Colbert", "text": "Claudette Colbert was a "
     "French-American actress. She was born in Saint-Mandé, France."},
    {"id": "u1", "title": "United", "text": "United is a 2011 British television film about "
     "a football club. It was broadcast in 2011."},
    {"id": "x1", "title": "Ottawa", "text": "Ottawa lies in the United States of nowhere; "
     "this passage only mentions the United States."},
]


def corpus_file(tmp_path: Path) -> Path:
    path = tmp_path / "passages.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    return path


def passages() -> list[Passage]:
    return [Passage(r["id"], r["title"], r["text"]) for r in RECORDS]


@pytest.mark.unit
def test_links_are_whole_titles_not_parts_of_longer_names() -> None:
    links = {(RECORDS[a]["id"], RECORDS[b]["id"]) for a, b, _, _ in find_links(passages())}
    assert ("f1", "p1") in links and ("f2", "p2") in links and ("f1", "c1") in links
    assert not any(b == "u1" for _, b in links)  # "United" inside "United States"


@pytest.mark.integration
def test_every_question_is_answered_by_its_two_gold_passages() -> None:
    questions = synthesize(passages(), max_questions=20)
    assert questions and {q["type"] for q in questions} <= {"bridge", "comparison"}
    by_id = {r["id"]: r for r in RECORDS}
    for q in questions:
        gold = [by_id[g] for g in q["gold_ids"]]
        assert len(set(q["gold_ids"])) == 2
        assert any(q["answer"] in f"{p['title']}\n{p['text']}" for p in gold), q
        if q["type"] == "bridge":  # the answer is read in the second passage, not the first
            assert q["answer"] in gold[1]["text"] and q["answer"] not in gold[0]["text"]
            assert q["answer"] not in q["question"]
            assert gold[1]["title"] not in q["question"]  # the bridge entity is masked
    assert len({q["id"] for q in questions}) == len(questions)
    assert synthesize(passages(), max_questions=20) == questions  # seeded: the same set
    assert len(synthesize(passages(), max_questions=1)) == 1
    # A clue starting with a pronoun names its passage instead ("It stars X.").
    assert not any('in "It ' in q["question"] for q in questions)
    assert resolve_pronoun("It stars Ann.", "Sleep") == "Sleep stars Ann."
    assert resolve_pronoun("His son is Bo.", "Al") == "Al's son is Bo."


@pytest.mark.integration
def test_synth_cli_output_runs_in_bench_multihop(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    made = CliRunner().invoke(app, ["synth", str(corpus_file(tmp_path)), "--out", str(out),
                                    "--json"])
    assert made.exit_code == 0, made.output
    summary = json.loads(made.stdout)
    assert summary["passages"] == len(RECORDS) and summary["questions"] >= 2
    dataset = load_multihop(out)  # the canonical format, gold ids resolved
    assert len(dataset.questions) == summary["questions"]
    ran = CliRunner().invoke(app, ["bench", "multihop", str(out), "--retrievers", "bm25",
                                   "--cutoffs", "1,2", "--data-dir", str(tmp_path / "data"),
                                   "--json"])
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.stdout)
    assert result["n_questions"] == summary["questions"] and "R@2" in result["results"]["bm25"]


@pytest.mark.unit
def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_passages(tmp_path / "missing.jsonl")
    with pytest.raises(InvalidInputError, match="no question could be built"):
        write_set(tmp_path / "out", passages(), [])
    with pytest.raises(InvalidInputError, match="max_questions"):
        synthesize(passages(), max_questions=0, nlp=object())
    twice = tmp_path / "twice.jsonl"
    twice.write_text('{"id": "a", "text": "one"}\n{"id": "a", "text": "two"}\n')
    with pytest.raises(InvalidInputError, match="ids repeat"):
        load_passages(twice)
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "no such file" in result.output
