"""Tests for eval.datasets on hand-made fixtures (tests/data/eval) and, when present, the
shared real datasets (../shared/datasets)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from eval.datasets import (
    Dataset,
    DatasetFormatError,
    Passage,
    Question,
    load_beir,
    load_dataset,
    load_multihop,
)
from rag.errors import InvalidInputError

DATA = Path(__file__).resolve().parents[1] / "data" / "eval"
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"

pytestmark = pytest.mark.unit


def _write(folder: Path, questions, corpus) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    qpath, cpath = folder / "questions.json", folder / "corpus.json"
    qpath.write_text(questions if isinstance(questions, str) else json.dumps(questions))
    cpath.write_text(corpus if isinstance(corpus, str) else json.dumps(corpus))
    return qpath, cpath


# ------------------------------------------------------------------ canonical


def test_canonical_folder():
    ds = load_multihop(DATA / "canonical")
    assert ds.name == "canonical" and ds.kind == "multihop"
    assert [p.id for p in ds.passages] == ["p0", "p1", "p2"]
    assert ds.questions[0] == Question("q0", "What follows alpha?", ("Beta", "B"), ("p1", "p0"))
    assert ds.questions[1].answers == ("gamma",)
    assert ds.questions[1].relevance is None


def test_canonical_file_pair_and_name():
    ds = load_multihop(
        DATA / "canonical" / "questions.json", DATA / "canonical" / "corpus.json", name="x"
    )
    assert ds.name == "x" and len(ds.questions) == 2


def test_indexed_text():
    assert Passage("1", "T", "body").indexed_text == "T\nbody"
    assert Passage("1", "", "body").indexed_text == "body"


def test_corpus_hash_is_stable_and_sensitive():
    a = load_multihop(DATA / "canonical")
    b = load_multihop(DATA / "canonical")
    assert a.corpus_hash() == b.corpus_hash()
    assert len(a.corpus_hash()) == 64
    changed = Dataset(
        "c", [Passage("p0", "Alpha", "other"), *a.passages[1:]], a.questions, "multihop"
    )
    assert changed.corpus_hash() != a.corpus_hash()
    # Field boundaries matter: ("ab", "c") must not hash like ("a", "bc").
    one = Dataset("d", [Passage("1", "ab", "c")], [], "multihop")
    two = Dataset("d", [Passage("1", "a", "bc")], [], "multihop")
    assert one.corpus_hash() != two.corpus_hash()


# ------------------------------------------------------------------ raw formats


def test_musique_raw_matches_by_identity_not_title():
    ds = load_multihop(
        DATA / "musique_raw" / "questions.json", DATA / "musique_raw" / "corpus.json"
    )
    assert ds.name == "questions"
    assert [p.id for p in ds.passages] == ["0", "1", "2"]
    # Title "Paris" occurs twice; the supporting one is the mythology passage (id 1),
    # found although its whitespace differs from the corpus copy.
    assert ds.questions[0].gold_ids == ("1", "2")
    assert ds.questions[0].answers == ("Troy", "Ilion")
    # A HippoRAG "sample"-style record: answer is a list, paragraphs use "text".
    assert ds.questions[1] == Question(
        "sample/1", "What is the capital of France?", ("Paris",), ("0",)
    )


def test_hotpot_raw_dict_corpus():
    ds = load_multihop(DATA / "hotpot_raw" / "questions.json", DATA / "hotpot_raw" / "corpus.json")
    assert ds.passages[0] == Passage(
        "0", "Nolan", "Christopher Nolan is a film director. He was born in London."
    )
    assert ds.passages[2].text == "Cheese is made from milk."
    q = ds.questions[0]
    assert q.id == "5ae4" and q.answers == ("yes",)
    assert q.gold_ids == ("0", "1")  # distinct, in supporting-fact order


def test_hotpot_style_with_list_corpus(tmp_path):
    qpath, cpath = _write(
        tmp_path,
        [{"question": "q?", "answer": "a", "supporting_facts": [["B", 0]]}],
        [{"title": "A", "text": "a"}, {"title": "B", "text": "b"}],
    )
    ds = load_multihop(qpath, cpath)
    assert ds.questions[0].id == "0" and ds.questions[0].gold_ids == ("1",)


def test_load_dataset_dispatch():
    assert load_dataset(DATA / "beir").kind == "beir"
    assert load_dataset(DATA / "canonical").kind == "multihop"
    raw = load_dataset(DATA / "hotpot_raw" / "questions.json", DATA / "hotpot_raw" / "corpus.json")
    assert raw.questions[0].gold_ids == ("0", "1")


# ------------------------------------------------------------------ BEIR


def test_beir_keeps_only_positively_judged_queries():
    ds = load_beir(DATA / "beir")
    assert ds.name == "beir" and ds.kind == "beir"
    assert [p.id for p in ds.passages] == ["d1", "d2", "d3"]
    assert ds.passages[1].title == ""
    assert [q.id for q in ds.questions] == ["1", "2"]  # 3 unjudged, 4 only score 0
    q1 = ds.questions[0]
    assert q1.question == "What helps bones?" and q1.answers == ()
    assert q1.gold_ids == ("d1", "d2")
    assert dict(q1.relevance) == {"d1": 2, "d2": 1}


def test_beir_split():
    ds = load_beir(DATA / "beir", split="dev", name="tiny")
    assert ds.name == "tiny" and [q.id for q in ds.questions] == ["3"]


def _beir_copy(tmp_path: Path) -> Path:
    root = tmp_path / "b"
    (root / "qrels").mkdir(parents=True)
    for rel in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        (root / rel).write_text((DATA / "beir" / rel).read_text())
    return root


@pytest.mark.parametrize(
    ("rel", "content", "message"),
    [
        ("corpus.jsonl", '{"_id": "d1", "text": "x"}\nnot json\n', "corpus.jsonl: line 2"),
        ("corpus.jsonl", '{"title": "t", "text": "x"}\n', "line 1 has no '_id'"),
        ("corpus.jsonl", '["a"]\n', "line 1 is not an object"),
        ("queries.jsonl", '{"_id": "1"}\n', "queries.jsonl: line 1 has no 'text'"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\n1\td1\n", "line 2 does not have 3"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\n1\td1\thigh\n", "is not an integer"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\n9\td1\t1\n", "query '9' is not in"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\n1\td1\t0\n", "no query has a positive"),
    ],
)
def test_beir_malformed(tmp_path, rel, content, message):
    root = _beir_copy(tmp_path)
    (root / rel).write_text(content)
    with pytest.raises(DatasetFormatError, match=message):
        load_beir(root)


def test_beir_missing_files(tmp_path):
    root = _beir_copy(tmp_path)
    (root / "qrels" / "test.tsv").unlink()
    with pytest.raises(DatasetFormatError, match="missing qrels/test.tsv"):
        load_beir(root)
    with pytest.raises(FileNotFoundError):
        load_beir(tmp_path / "nope")


# ------------------------------------------------------------------ malformed multi-hop

GOOD_CORPUS = [{"id": "0", "title": "A", "text": "a"}, {"id": "1", "title": "B", "text": "b"}]
GOOD_Q = {"id": "q", "question": "?", "answer": "x", "gold_ids": ["0"]}


@pytest.mark.parametrize(
    ("questions", "corpus", "message"),
    [
        ("[not json", GOOD_CORPUS, r"questions\.json: invalid JSON"),
        (GOOD_Q, GOOD_CORPUS, "must be a non-empty JSON list"),
        ([], GOOD_CORPUS, "must be a non-empty JSON list"),
        (["x"], GOOD_CORPUS, "record 0 is not an object"),
        ([{"id": "q", "question": "?"}], GOOD_CORPUS, "record 0 has none of 'gold_ids'"),
        (
            [GOOD_Q, GOOD_Q, GOOD_Q, {"answer": "x", "gold_ids": ["0"]}],
            GOOD_CORPUS,
            r"questions\.json: record 3 has no 'question'",
        ),
        (
            [GOOD_Q, {**GOOD_Q, "question": 5}],
            GOOD_CORPUS,
            "record 1 field 'question' has the wrong type",
        ),
        ([{**GOOD_Q, "gold_ids": "0"}], GOOD_CORPUS, "field 'gold_ids' has the wrong type"),
        ([{**GOOD_Q, "gold_ids": ["7"]}], GOOD_CORPUS, "gold id '7' is not in the corpus"),
        ([{**GOOD_Q, "gold_ids": []}], GOOD_CORPUS, "record 0 has no gold passages"),
        ([{**GOOD_Q, "answer": 3}], GOOD_CORPUS, "field 'answer' has the wrong type"),
        ([{**GOOD_Q, "answer_aliases": [None]}], GOOD_CORPUS, "non-string answer"),
        ([GOOD_Q], {"A": 5}, r"corpus\.json: entry 'A' is not a string"),
        ([GOOD_Q], "3", r"corpus\.json: corpus must be a JSON list or object"),
        ([GOOD_Q], [{"id": "0", "title": "A"}], r"corpus\.json: record 0 has no 'text'"),
        ([GOOD_Q], [{"id": "0", "text": "a"}, {"id": "0", "text": "b"}], "record 1 repeats id '0'"),
        ([GOOD_Q], [{"id": True, "text": "a"}], "field 'id' has the wrong type"),
        ([GOOD_Q], [], r"corpus\.json: the corpus is empty"),
    ],
)
def test_multihop_malformed(tmp_path, questions, corpus, message):
    qpath, cpath = _write(tmp_path, questions, corpus)
    with pytest.raises(DatasetFormatError, match=message):
        load_multihop(qpath, cpath)


RAW_CORPUS = [{"title": "P", "text": "one"}, {"title": "P", "text": "two"}]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"question": "?", "paragraphs": "x"}, "field 'paragraphs' has the wrong type"),
        (
            {
                "question": "?",
                "paragraphs": [{"title": "P", "paragraph_text": "three", "is_supporting": True}],
            },
            "supporting paragraph 'P' is not in the corpus",
        ),
        (
            {"question": "?", "paragraphs": [{"title": "P", "is_supporting": True}]},
            "paragraph without text",
        ),
        (
            {
                "question": "?",
                "paragraphs": [{"title": "P", "paragraph_text": "one", "is_supporting": False}],
            },
            "record 0 has no gold passages",
        ),
        (
            {"question": "?", "supporting_facts": [["Q", 0]]},
            "supporting title 'Q' is not in the corpus",
        ),
        ({"question": "?", "supporting_facts": ["P"]}, "malformed supporting fact"),
    ],
)
def test_raw_malformed(tmp_path, record, message):
    qpath, cpath = _write(tmp_path, [record], RAW_CORPUS)
    with pytest.raises(DatasetFormatError, match=message):
        load_multihop(qpath, cpath)


def test_folder_layout_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_multihop(tmp_path / "nope")
    (tmp_path / "questions.json").write_text("[]")
    with pytest.raises(DatasetFormatError, match="missing corpus.json"):
        load_multihop(tmp_path)


def test_error_is_invalid_input_and_value_error():
    assert issubclass(DatasetFormatError, InvalidInputError)
    assert issubclass(DatasetFormatError, ValueError)


# ------------------------------------------------------------------ shared real data

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets is not present")


def _gold_identities(ds: Dataset) -> list[list[tuple[str, str]]]:
    by_id = {p.id: p for p in ds.passages}
    return [
        sorted((by_id[g].title, " ".join(by_id[g].text.split())) for g in q.gold_ids)
        for q in ds.questions
    ]


@pytest.mark.integration
@needs_shared
@pytest.mark.parametrize(
    ("folder", "n_questions", "n_passages"),
    [
        ("musique_train_100", 100, 1890),
        ("hotpotqa_train_100", 100, 994),
        ("2wiki_dev_657", 657, 4306),
    ],
)
def test_shared_canonical_counts(folder, n_questions, n_passages):
    start = time.perf_counter()
    ds = load_multihop(SHARED / "multihop" / folder)
    elapsed = time.perf_counter() - start
    assert (len(ds.questions), len(ds.passages)) == (n_questions, n_passages)
    assert all(q.gold_ids for q in ds.questions)
    assert elapsed < 1.0


@pytest.mark.integration
@needs_shared
def test_shared_scifact_counts():
    ds = load_beir(SHARED / "beir" / "scifact")
    assert (len(ds.questions), len(ds.passages)) == (300, 5183)
    assert all(q.relevance for q in ds.questions)


@pytest.mark.integration
@needs_shared
@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("musique_train", "musique_train_100"), ("hotpotqa_train", "hotpotqa_train_100")],
)
def test_shared_raw_gold_matches_canonical(raw, canonical):
    folder = SHARED / "multihop" / "hipporag_raw"
    raw_ds = load_multihop(folder / f"{raw}.json", folder / f"{raw}_corpus.json")
    canon = load_multihop(SHARED / "multihop" / canonical)
    assert [q.id for q in raw_ds.questions] == [q.id for q in canon.questions]
    assert len(raw_ds.passages) == len(canon.passages)
    assert _gold_identities(raw_ds) == _gold_identities(canon)
