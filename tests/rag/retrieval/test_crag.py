"""CRAG: decisions on fixed scores, strip recomposition order, rewrites, abstention.

No model is loaded: the dense index is a fake over hashed bag-of-words vectors, and the
LLM grader is a test double (no generator is configured by default).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from indexes.base import Hit
from indexes.tokenize import BM25Tokenizer
from rag.generation.answers import NO_ANSWER
from rag.retrieval.base import Retrieval
from rag.retrieval.context import RetrievalContext
from rag.retrieval.crag.decisions import (
    AMBIGUOUS,
    CORRECT,
    INCORRECT,
    Evaluator,
    GradingError,
    Strip,
    decompose,
    entity_overlap,
    grade,
    keyword_rewrite,
    llm_grades,
    recompose,
)
from rag.retrieval.crag.retriever import build_crag
from rag.retrieval.pipeline import ask
from rag.settings import RetrievalSettings
from tests.rag.retrieval.test_fusion import CORPUS, VariantsDouble, WordIndex, texts

pytestmark = pytest.mark.unit


class HashEmbedder:
    """Unit bag-of-words vectors over hashed stems: cosine ~ word overlap."""

    dim = 256

    def __init__(self) -> None:
        self.tokenizer = BM25Tokenizer()

    def encode(self, items):
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, text in enumerate(items):
            for term in self.tokenizer(text):
                out[row, zlib.crc32(term.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


class HashDense(WordIndex):
    """A dense-like fake: `embedder`, `vectors_for` and word-overlap search."""

    def __init__(self) -> None:
        super().__init__("dense")
        self.embedder = HashEmbedder()

    def vectors_for(self, ids):
        return self.embedder.encode([f"{CORPUS[i][0]}\n{CORPUS[i][1]}" for i in ids])


def settings(**crag) -> RetrievalSettings:
    return RetrievalSettings.model_validate({"crag": crag, "fusion": {"hops": 1}})


def test_grade_on_fixed_scores():
    assert grade([0.9, 0.1], upper=0.6, lower=0.2) == CORRECT
    assert grade([0.5, 0.3], upper=0.6, lower=0.2) == AMBIGUOUS
    assert grade([0.6], upper=0.6, lower=0.2) == AMBIGUOUS  # Correct needs > upper
    assert grade([0.1, 0.19], upper=0.6, lower=0.2) == INCORRECT
    assert grade([0.2], upper=0.6, lower=0.2) == AMBIGUOUS  # Incorrect needs < lower
    assert grade([], upper=0.6, lower=0.2) == INCORRECT


def test_evaluator_probability_and_validation():
    ev = Evaluator({"cosine": 2.0, "entities": 1.0}, bias=-1.0, upper=0.6, lower=0.2)
    assert ev.probability({"cosine": 0.5, "entities": 1.0, "bm25": 9.0}) == pytest.approx(
        1 / (1 + np.exp(-1.0)))
    assert ev.grade([0.7]) == CORRECT
    with pytest.raises(ValueError, match="lower <= upper"):
        Evaluator({}, bias=0, upper=0.2, lower=0.5)
    with pytest.raises(ValueError, match="unknown evaluator features"):
        Evaluator({"length": 1.0}, bias=0, upper=0.5, lower=0.1)
    loaded = Evaluator.from_mapping({"lower": 0.05, "weights": {"cosine": 3.0}}, ev)
    assert (loaded.lower, loaded.upper, dict(loaded.weights)) == (0.05, 0.6, {"cosine": 3.0})


def test_recompose_keeps_document_order_not_score_order():
    strips = [Strip(7, 0, 0, 10, "a"), Strip(7, 0, 11, 20, "b"), Strip(3, 1, 0, 5, "c"),
              Strip(3, 1, 6, 9, "d")]
    kept = recompose(strips, [0.3, 0.9, 0.95, 0.1], threshold=0.25)
    assert [s.text for s, _ in kept] == ["a", "b", "c"]
    shuffled = [strips[3], strips[2], strips[1], strips[0]]
    kept = recompose(shuffled, [0.9, 0.5, 0.4, 0.8], threshold=0.45)
    assert [(s.chunk_id, s.start) for s, _ in kept] == [(7, 0), (3, 0), (3, 6)]
    with pytest.raises(ValueError):
        recompose(strips, [0.1], threshold=0.5)


def test_decompose_gives_sentence_offsets_in_rank_order():
    strips = decompose([(5, "One here. Two there."), (2, "Three.")])
    assert [(s.chunk_id, s.rank, s.text) for s in strips] == [
        (5, 0, "One here."), (5, 0, "Two there."), (2, 1, "Three.")]
    assert "One here. Two there."[strips[1].start:strips[1].end] == "Two there."


def test_keyword_rewrite_and_entity_overlap():
    tok = BM25Tokenizer()
    assert keyword_rewrite("Who is the mother of the director of Polish-Russian War?", tok) == (
        "Polish-Russian War mother director")
    assert keyword_rewrite("who is it?", tok) == "who is it?"
    assert entity_overlap(["warsaw", "kraków"], set(), "Warsaw is big", set()) == 0.5
    assert entity_overlap([], {"capit", "x"}, "", {"capit"}) == 0.5


def test_llm_grades_use_the_double_and_validate():
    assert llm_grades(VariantsDouble({"grades": [1, 0.25]}), "q", ["a", "b"]) == [1.0, 0.25]
    with pytest.raises(GradingError):
        llm_grades(VariantsDouble({"grades": [1]}), "q", ["a", "b"])
    with pytest.raises(GradingError):
        llm_grades(VariantsDouble({"grades": [2, 0]}), "q", ["a", "b"])


def _indexes():
    return {"bm25": WordIndex("bm25"), "dense": HashDense()}


def test_crag_correct_keeps_ranking_and_recomposes_strips():
    crag = build_crag(_indexes(), settings(weights={"cosine": 10.0}, bias=-3.0, upper=0.6,
                                           lower=0.1, strip_threshold=0.2),
                      context=RetrievalContext(texts=texts))
    result = crag.retrieve("Who was the mother of Xawery Żuławski?", 2)
    block = result.trace["crag"]
    assert block["label"] == CORRECT and block["abstain"] is False
    assert block["evaluator"] == "offline"
    assert result.hits[0].chunk_id == 2
    strips = block["strips"]
    assert strips and strips[0]["chunk_id"] == 2
    order = [(s["chunk_id"], s["start"]) for s in strips]
    rank = {h.chunk_id: n for n, h in enumerate(result.hits)}
    assert order == sorted(order, key=lambda cs: (rank[cs[0]], cs[1]))


def test_crag_abstains_when_both_searches_are_incorrect():
    crag = build_crag(_indexes(), settings(weights={"cosine": 1.0}, bias=-10.0, upper=0.6,
                                           lower=0.1),
                      context=RetrievalContext(texts=texts))
    result = crag.retrieve("Polish film director mother", 3)
    block = result.trace["crag"]
    assert block["label"] == INCORRECT and block["abstain"] is True
    assert block["searched"] == ["bm25", "fusion"] and block["rewrite"]
    assert [h.chunk_id for h in result.hits] == block["candidates"]


class GraderDouble:
    """Test double for an LLM grader: the first passage 0.9, the others 0."""

    def generate_json(self, prompt: str, schema: dict) -> dict:
        n = prompt.count("\n[")
        return {"grades": [0.9] + [0.0] * (n - 1)}


def test_crag_llm_grader_switch():
    double = GraderDouble()
    crag = build_crag(_indexes(), settings(graded=5), context=RetrievalContext(texts=texts, generator=double))
    result = crag.retrieve("Małgorzata Braunek actress", 1)
    assert result.trace["crag"]["evaluator"] == "llm"
    assert result.trace["crag"]["label"] == CORRECT


class _Store:
    def get_chunks(self, ids):
        from rag.storage.store import ChunkRow

        return {i: ChunkRow(i, f"doc{i}", CORPUS[i][0], CORPUS[i][1], 0, len(CORPUS[i][1]), 0)
                for i in ids if i in CORPUS}


class _Abstaining:
    def retrieve(self, query, k):
        return Retrieval([Hit(3, 0.1, "crag"), Hit(4, 0.05, "crag")],
                         {"retriever": "crag", "crag": {"label": INCORRECT, "abstain": True}})


class _NeverCalled:
    name = "extractive"

    def answer(self, question, passages):
        raise AssertionError("the generator must not run when CRAG abstains")


def test_ask_returns_an_abstaining_answer_without_citations():
    # Abstained means no citations (the candidates stay in the trace), as for every retriever.
    answer = ask("Who won the 1950 World Cup?", retriever=_Abstaining(), store=_Store(),
                 generator=_NeverCalled(), k=2)
    assert answer.abstained is True
    assert answer.answer.startswith(NO_ANSWER) and "CRAG graded" in answer.answer
    assert answer.citations == []
    assert answer.retrieval["crag"]["abstain"] is True


def test_crag_llm_grades_use_the_settings_thresholds_not_the_calibration():
    # crag.json is fitted to the offline evaluator's scale; LLM grades use upper/lower.
    context = RetrievalContext(texts=texts, generator=GraderDouble(),
                               calibration={"upper": 0.95, "lower": 0.9})
    crag = build_crag(_indexes(), settings(graded=3, upper=0.6, lower=0.2), context=context)
    result = crag.retrieve("Małgorzata Braunek actress", 2)
    block = result.trace["crag"]
    assert result.trace["path"] == "llm" and (block["upper"], block["lower"]) == (0.6, 0.2)
    assert block["label"] == CORRECT and block["scores"][0] == 0.9
    offline = build_crag(_indexes(), settings(), context=RetrievalContext(
        texts=texts, calibration={"upper": 0.95, "lower": 0.9}))
    assert offline.retrieve("Małgorzata Braunek actress", 2).trace["crag"]["upper"] == 0.95


def test_crag_falls_back_offline_when_the_llm_reply_is_bad():
    context = RetrievalContext(texts=texts, generator=VariantsDouble({"grades": "high"}))
    result = build_crag(_indexes(), settings(fallback=["bm25"]), context=context).retrieve(
        "Małgorzata Braunek actress", 2)
    assert result.trace["path"] == "offline" and result.trace["crag"]["evaluator"] == "offline"
    assert "GradingError" in result.trace["llm_error"]
