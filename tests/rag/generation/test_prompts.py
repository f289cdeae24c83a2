"""Prompt assembly and citation checking, with no model: a word-count tokenizer stands in."""

from __future__ import annotations

import pytest

from rag.generation.answers import Passage
from rag.generation.prompts import (
    NOT_IN_CONTEXT,
    StreamingCitationFilter,
    attribute_sentences,
    build_prompt,
    check_citations,
    format_passage,
    lost_in_the_middle_order,
    says_not_in_context,
    select_passages,
    truncate_to_tokens,
)

pytestmark = pytest.mark.unit


def words(text: str) -> int:
    return len(text.split())


def passage(n: int, text: str | None = None) -> Passage:
    body = text or f"passage {n} says fact {n}."
    return Passage(100 + n, f"doc{n}", f"Title {n}", body, 10, 10 + len(body), 1.0 - n / 10)


def test_order_puts_the_best_at_both_ends_and_the_weakest_in_the_middle():
    assert lost_in_the_middle_order(0) == []
    assert lost_in_the_middle_order(1) == [0]
    assert lost_in_the_middle_order(2) == [0, 1]
    assert lost_in_the_middle_order(5) == [0, 2, 4, 3, 1]
    order = lost_in_the_middle_order(10)
    assert order[0] == 0 and order[-1] == 1 and order[1] == 2 and order[-2] == 3
    assert order[len(order) // 2 - 1: len(order) // 2 + 1] == [8, 9]  # weakest in the middle
    assert sorted(order) == list(range(10))
    with pytest.raises(ValueError, match="-1"):
        lost_in_the_middle_order(-1)


def test_prompt_numbers_passages_in_display_order_and_asks_to_say_when_missing():
    passages = [passage(n) for n in range(5)]
    prompt = build_prompt("What does passage 0 say?", passages, count_tokens=words,
                          max_prompt_tokens=1000)
    assert [p.chunk_id for p in prompt.sources] == [100, 102, 104, 103, 101]
    system, user = prompt.messages
    assert system["role"] == "system" and NOT_IN_CONTEXT in system["content"]
    assert "[1]" in system["content"] or "[n]" in system["content"] or "[2]" in system["content"]
    body = user["content"]
    positions = [body.index(f"[{n}] Title {rank}") for n, rank in
                 enumerate([0, 2, 4, 3, 1], start=1)]
    assert positions == sorted(positions)
    assert body.rstrip().endswith("Question: What does passage 0 say?\nAnswer:")
    assert prompt.left_out == 0


def test_budget_keeps_the_best_passages_and_cuts_the_last_one_that_fits_in_part():
    long_text = " ".join(f"w{i}" for i in range(200))
    passages = [passage(0, long_text), passage(1, long_text), passage(2, long_text)]
    entry = words(format_passage(1, passages[0])) + 1
    kept, used = select_passages(passages, budget=entry + 60, count_tokens=words)
    assert [p.chunk_id for p in kept] == [100, 101]
    assert kept[0].text == long_text
    assert kept[1].text.endswith(" ...") and words(kept[1].text) < 60
    assert kept[1].end - kept[1].start == len(kept[1].text)
    assert used <= entry + 60
    # too little room left for a useful part: the passage is left out, not cut to a stub
    kept, _ = select_passages(passages, budget=entry + 10, count_tokens=words)
    assert [p.chunk_id for p in kept] == [100]


def test_whole_prompt_stays_within_the_token_budget():
    passages = [passage(n, " ".join(["word"] * 80)) for n in range(10)]
    for limit in (120, 300, 700):
        prompt = build_prompt("q?", passages, count_tokens=words, max_prompt_tokens=limit)
        total = sum(words(m["content"]) for m in prompt.messages)
        assert total <= limit
        assert prompt.left_out == 10 - len(prompt.sources)
    capped = build_prompt("q?", passages, count_tokens=words, max_prompt_tokens=5000,
                          max_context_tokens=200)
    assert capped.context_tokens <= 200 and len(capped.sources) < 10
    with pytest.raises(ValueError, match="prompt budget"):
        build_prompt("q?", passages, count_tokens=words, max_prompt_tokens=10)


def test_truncate_to_tokens():
    text = "one two three four five six"
    assert truncate_to_tokens(text, 10, words) == text
    assert truncate_to_tokens(text, 3, words) == "one two ..."
    assert truncate_to_tokens(text, 0, words) == ""


def test_check_citations_drops_unknown_numbers_and_renumbers_by_first_use():
    checked = check_citations("Paris is in France [3]. It has the tower [1][7]. Also [3, 9].", 3)
    assert checked.text == "Paris is in France [1]. It has the tower [2]. Also [1]."
    assert checked.cited == [2, 0]
    assert checked.dropped == [7, 9]
    only_bad = check_citations("Made up [0] and [12].", 3)
    assert only_bad.text == "Made up and." and only_bad.cited == [] and only_bad.dropped == [0, 12]
    assert check_citations("No markers; [a] is not one.", 2).text == "No markers; [a] is not one."


@pytest.mark.parametrize("pieces", [
    ["Paris [3", "]. Tower [", "1][7", "]."],
    list("Paris [3]. Tower [1][7]."),
    ["Paris [3]. Tower [1][7]."],
])
def test_streaming_filter_matches_the_whole_check(pieces):
    whole = check_citations("".join(pieces), 3)
    stream = StreamingCitationFilter(3)
    shown = "".join(stream.feed(p) for p in pieces) + stream.finish()
    assert " ".join(shown.split()).replace(" .", ".") == whole.text
    assert stream.cited == whole.cited and stream.dropped == whole.dropped


def test_streaming_filter_releases_brackets_that_are_not_markers():
    stream = StreamingCitationFilter(2)
    assert stream.feed("a [b") == "a [b"
    assert stream.feed(" [1") == " "
    assert stream.feed("2") == ""
    assert stream.finish() == "[12"


def test_says_not_in_context():
    assert says_not_in_context(NOT_IN_CONTEXT)
    assert says_not_in_context("Sorry. the provided context does not contain the answer")
    assert not says_not_in_context("Gustave Eiffel [1].")


def test_uncited_sentences_are_attributed_to_the_passage_that_supports_them():
    sources = [passage(0, "The tower is named after the engineer Gustave Eiffel."),
               passage(1, "Berlin is the capital of Germany.")]
    text = "It is named after Gustave Eiffel. Berlin is the capital [1]. Cheese is tasty!"
    assert attribute_sentences(text, sources) == (
        "It is named after Gustave Eiffel [1]. Berlin is the capital [1]. Cheese is tasty!")
    assert attribute_sentences("Named after Gustave Eiffel", sources) == "Named after Gustave Eiffel [1]"
    assert attribute_sentences("", sources) == ""
    assert attribute_sentences("Eiffel.", []) == "Eiffel."
