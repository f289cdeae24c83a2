"""The extractive generator: the passages' own sentences, each with an exact citation."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answers import NO_ANSWER, Passage
from rag.generators.extractive import (
    ExtractiveGenerator,
    pick_sentences,
    score_candidates,
    sentence_candidates,
)

DOC_A = ("Preface text that is not part of the chunk. "
         "Marie Curie was born in Warsaw in 1867. She moved to Paris to study physics. "
         "She won the Nobel Prize in Physics in 1903 and in Chemistry in 1911.")
DOC_B = "The Eiffel Tower was completed in 1889. It stands in Paris on the Champ de Mars."


def passage(doc: str, start: int, *, chunk_id: int, doc_id: str, title: str,
            score: float = 1.0) -> Passage:
    return Passage(chunk_id, doc_id, title, doc[start:], start, len(doc), score)


PASSAGES = [
    passage(DOC_A, DOC_A.index("Marie"), chunk_id=7, doc_id="curie", title="Marie Curie"),
    passage(DOC_B, 0, chunk_id=9, doc_id="eiffel", title="Eiffel Tower", score=0.5),
]
DOCS = {"curie": DOC_A, "eiffel": DOC_B}


@pytest.fixture(scope="module")
def generator(embedder) -> ExtractiveGenerator:
    return ExtractiveGenerator(embedder)


@pytest.mark.integration
def test_answer_sentences_carry_exact_citations(generator) -> None:
    answer = generator.answer("When did Marie Curie win the Nobel Prize in Chemistry?", PASSAGES)
    assert not answer.abstained and answer.generator == "extractive"
    assert 1 <= len(answer.citations) <= 3
    best = answer.citations[0]
    assert best.document_id == "curie" and best.chunk_id == 7 and best.title == "Marie Curie"
    assert "1911" in best.text
    for n, citation in enumerate(answer.citations, start=1):
        assert DOCS[citation.document_id][citation.start:citation.end] == citation.text
        assert f"{citation.text.strip()} [{n}]" in answer.answer
    scores = [c.score for c in answer.citations]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.integration
def test_other_question_cites_the_other_passage(generator) -> None:
    answer = generator.answer("When was the Eiffel Tower completed?", PASSAGES)
    assert answer.citations[0].document_id == "eiffel"
    assert answer.citations[0].text == "The Eiffel Tower was completed in 1889."
    assert (answer.citations[0].start, answer.citations[0].end) == (0, 39)


@pytest.mark.integration
def test_abstains_without_passages(generator) -> None:
    answer = generator.answer("Anything?", [])
    assert answer.abstained and answer.citations == [] and answer.answer == NO_ANSWER
    tiny = [Passage(1, "d", "t", "ok", 0, 2, 1.0)]  # no sentence of 3+ characters
    assert generator.answer("Anything?", tiny).abstained


@pytest.mark.integration
def test_max_sentences(embedder) -> None:
    one = ExtractiveGenerator(embedder, max_sentences=1)
    assert len(one.answer("Marie Curie Nobel Prize physics", PASSAGES).citations) == 1


@pytest.mark.unit
def test_constructor_validates() -> None:
    with pytest.raises(ValueError, match="0"):
        ExtractiveGenerator(None, max_sentences=0)  # type: ignore[arg-type]


@pytest.mark.unit
def test_sentence_candidates_are_offsets_into_the_passage() -> None:
    candidates = sentence_candidates(PASSAGES)
    assert {c.passage for c in candidates} == {0, 1}
    for c in candidates:
        text = PASSAGES[c.passage].text[c.start:c.end]
        assert text.strip() and len(text) >= 3
    capped = sentence_candidates(PASSAGES, max_chars=10)
    assert all(c.end - c.start <= 10 for c in capped)


@pytest.mark.unit
def test_pick_sentences() -> None:
    scores = np.array([0.2, 0.9, 0.5, 0.85, 0.1])
    assert pick_sentences(scores, limit=3, floor=0.15) == [1, 3]  # 0.5 < 0.6 * 0.9
    assert pick_sentences(scores, limit=1, floor=0.15) == [1]
    assert pick_sentences(scores, limit=5, floor=0.95) == []
    assert pick_sentences(np.array([]), limit=3, floor=0.0) == []


@pytest.mark.unit
def test_score_candidates_weights() -> None:
    scores = score_candidates(np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(scores, [0.6 + 0.1, 0.3 + 0.05])
