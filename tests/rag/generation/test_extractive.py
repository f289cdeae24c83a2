"""The extractive generator: the passages' own sentences, each with an exact citation."""

from __future__ import annotations

import numpy as np
import pytest

from rag.generation.answers import NO_ANSWER, Passage
from rag.generation.extractive import (
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
    # The short answer is the span, cited; the sentences are its evidence (issue 17).
    assert answer.answer == "1911 [1]"
    for n, citation in enumerate(answer.citations, start=1):
        assert DOCS[citation.document_id][citation.start:citation.end] == citation.text
        assert f"{citation.text.strip()} [{n}]" in answer.supporting_text
    scores = [c.score for c in answer.citations]
    assert scores == sorted(scores, reverse=True)
    assert answer.to_dict()["supporting_text"] == answer.supporting_text


@pytest.mark.integration
def test_without_short_answers_the_sentences_are_the_answer(embedder) -> None:
    sentences = ExtractiveGenerator(embedder, short_answers=False)
    answer = sentences.answer("When did Marie Curie win the Nobel Prize in Chemistry?", PASSAGES)
    assert answer.supporting_text is None and "supporting_text" not in answer.to_dict()
    for n, citation in enumerate(answer.citations, start=1):
        assert f"{citation.text.strip()} [{n}]" in answer.answer


@pytest.mark.integration
def test_no_confident_span_keeps_the_sentence_answer(generator) -> None:
    answer = generator.answer("Why did Marie Curie move to Paris?", PASSAGES)
    assert answer.supporting_text is None and "Paris to study physics. [" in answer.answer


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


MARKDOWN = ("# Project Falcon notes\n\n## Parking\n\n| Where | What |\n|---|---|\n"
            "| Garage | Level -2, spots 40 to 55 |\n\n## Lunch\n\n"
            "The canteen on the third floor serves lunch from noon.")
HTML_LIKE = "Parking\n\nLevel -2, spots 40 to 55\n\nLunch\n\nThe canteen serves lunch from noon."
PDF_LIKE = ("Mount Etna\nMount Etna is an active stratovolcano on the east coast of\n"
            "Sicily, Italy. It is one of the tallest active volcanoes in Europe.")


def whole(text: str, *, chunk_id: int = 1, doc_id: str = "d", title: str = "notes") -> Passage:
    return Passage(chunk_id, doc_id, title, text, 0, len(text), 1.0)


@pytest.mark.unit
@pytest.mark.parametrize(("text", "heading"), [
    (MARKDOWN, ["Project Falcon notes", "Parking", "Lunch"]),
    (HTML_LIKE, ["Parking", "Lunch"]),
    (PDF_LIKE, ["Mount Etna"]),
])
def test_headings_are_not_candidates_but_context(text: str, heading: list[str]) -> None:
    """Issue 19.2: heading-only sentences are skipped and label the sentences under them."""
    candidates = sentence_candidates([whole(text)])
    found = [text[c.start:c.end] for c in candidates]
    assert not any(h in found or f"# {h}" in found or f"## {h}" in found for h in heading)
    assert all(any(ch.isalnum() for ch in f) for f in found)  # no "|---|---|"
    assert all(c.heading.split(": ")[0] in heading for c in candidates)
    under = next(c for c in candidates if "40 to 55" in text[c.start:c.end] or "Sicily" in
                 text[c.start:c.end])
    expected = "Mount Etna" if text is PDF_LIKE else "Parking"
    assert under.heading.split(": ")[0] == expected


@pytest.mark.unit
def test_questions_and_rows_and_items_are_candidates_or_not() -> None:
    text = ("Where can I park?\nIn the garage on level -2.\n- Bring your badge\n"
            "| Room | Desk |\n|---|---|\n| Office | B12 |")
    candidates = sentence_candidates([whole(text)])
    found = [text[c.start:c.end] for c in candidates]
    assert found == ["In the garage on level -2.", "- Bring your badge", "| Office | B12 |"]
    assert candidates[-1].heading == "| Room | Desk |"  # the table header is the row's context


@pytest.mark.integration
@pytest.mark.parametrize("text", [MARKDOWN, HTML_LIKE])
def test_heading_is_not_the_answer_the_content_under_it_is(generator, text: str) -> None:
    answer = generator.answer("Where can I park?", [whole(text)])
    assert not answer.abstained
    best = answer.citations[0]
    assert "Level -2, spots 40 to 55" in best.text, answer.answer
    assert text[best.start:best.end] == best.text
    assert "Parking [" not in answer.answer


@pytest.mark.integration
def test_pdf_heading_is_not_the_answer(generator) -> None:
    answer = generator.answer("Where is Mount Etna?", [whole(PDF_LIKE, title="volcanoes.pdf")])
    assert answer.citations[0].text.startswith("Mount Etna is an active stratovolcano")
    assert "Sicily" in answer.citations[0].text  # the wrapped line is part of the sentence


@pytest.mark.integration
def test_wrapped_sentence_is_answered_whole(generator) -> None:
    """Issue 19.1 end to end: the answer does not stop at the line break."""
    text = ("The annual conference will be held in the city of\n"
            "Valencia during the second week of May.\n\nTickets cost 200 euros.")
    answer = generator.answer("Where will the annual conference be held?", [whole(text)])
    assert answer.citations[0].text == text[:text.index("May.") + 4]
    assert "Valencia" in answer.answer.split("[1]")[0]


CJK_PASSAGES = [
    whole("北京是中华人民共和国的首都，也是全国的政治和文化中心。故宫位于北京市中心。",
          chunk_id=1, doc_id="beijing", title="北京"),
    whole("東京は日本の首都であり、世界最大級の都市圏を形成している。東京タワーは1958年に完成した。",
          chunk_id=2, doc_id="tokyo", title="東京"),
    whole("大熊猫是中国特有的动物，生活在四川的山林里。大熊猫主要吃竹子，每天要吃十几公斤。",
          chunk_id=3, doc_id="panda", title="大熊猫"),
]


@pytest.mark.integration
def test_cjk_question_puts_the_matching_sentence_first(generator) -> None:
    """Issue 19.5: 熊猫吃什么 ("what do pandas eat") answers with the panda sentence first,
    even when the panda passage was retrieved last."""
    answer = generator.answer("熊猫吃什么", CJK_PASSAGES)
    assert answer.citations[0].document_id == "panda"
    assert "竹子" in answer.citations[0].text
    assert all(c.document_id == "panda" for c in answer.citations[:2])
