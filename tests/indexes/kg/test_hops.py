"""Pure hop and comparison functions: bridge seeds, the coverage stop, decomposition, slots."""

from __future__ import annotations

import pytest

from indexes.kg.hops import (
    bridge_entities,
    comparison_parts,
    evidence_covers,
    frontier,
    hop_weight,
    reserve_slots,
)

# passages 1 (film "blue harbor", phrase 10) names its director (phrase 20, titling passage
# 2) and a city (phrase 30, no passage); passage 3 is titled by phrase 40, named in 1 and 2.
PHRASES = {1: [10, 20, 30, 40], 2: [20, 40, 50], 3: [40]}
TITLED = {10: [1], 20: [2], 40: [3]}


def flat(_pid: int, _cid: int) -> float:
    return 1.0


@pytest.mark.unit
def test_bridges_are_unnamed_titled_phrases_outside_the_evidence() -> None:
    found = bridge_entities([1], PHRASES.__getitem__, {10}, relevance=flat, titled=TITLED,
                            limit=5)
    assert [pid for pid, _ in found] == [20, 40]  # 10 is named, 30 titles nothing
    loose = bridge_entities([1], PHRASES.__getitem__, {10}, relevance=flat, titled=TITLED,
                            limit=5, titled_only=False)
    assert {pid for pid, _ in loose} == {20, 30, 40}


@pytest.mark.unit
def test_bridges_skip_own_titles_and_passages_already_found() -> None:
    # passage 2 is evidence already: phrase 20 (its title) brings nothing new
    found = bridge_entities([1, 2], PHRASES.__getitem__, {10}, relevance=flat, titled=TITLED,
                            limit=5)
    assert [pid for pid, _ in found] == [40]


@pytest.mark.unit
def test_bridges_rank_by_relevance_and_respect_the_limit() -> None:
    scores = {20: 0.9, 40: 0.3}
    found = bridge_entities([1], PHRASES.__getitem__, set(), relevance=lambda p, c: scores.get(p, 0),
                            titled=TITLED, limit=1)
    assert found == [(20, 0.9)]
    assert bridge_entities([1], PHRASES.__getitem__, set(), relevance=flat, titled=TITLED,
                           limit=0) == []
    # relevance 0 drops a bridge
    none = bridge_entities([1], PHRASES.__getitem__, set(), relevance=lambda p, c: 0.0,
                           titled=TITLED, limit=3)
    assert none == []


@pytest.mark.unit
def test_coverage_stop() -> None:
    assert evidence_covers({10, 20}, {10, 20, 30}, [])
    assert not evidence_covers({10, 20}, {10, 20, 30}, [40])  # a bridge still to follow
    assert not evidence_covers({10, 99}, {10, 20}, [])  # a named entity not in evidence
    assert hop_weight(0.5, 0) == 1.0 and hop_weight(0.5, 2) == 0.25
    with pytest.raises(ValueError):
        hop_weight(0.0, 1)


@pytest.mark.unit
@pytest.mark.parametrize(("question", "parts"), [
    ("Which film came out first, Blue Harbor or Red Sky?", ["Blue Harbor", "Red Sky"]),
    ("Who was born first, Alice Smith or Carl Jones?", ["Alice Smith", "Carl Jones"]),
    ("Which film has the director who died later, The More The Merrier or Sleep, My Love?",
     ["The More The Merrier", "Sleep, My Love"]),
    ("Where was the director of film Blue Harbor born?", []),
    ("Is it Blue Harbor or Red Sky?", []),
])
def test_comparison_parts(question: str, parts: list[str]) -> None:
    assert comparison_parts(question) == parts


@pytest.mark.unit
def test_comparison_parts_prefer_a_split_into_known_entities() -> None:
    known = {"sleep, my love", "red sky"}
    question = "Which came out first, Hope, or Sleep, My Love or Red Sky?"
    assert comparison_parts(question) == ["My Love", "Red Sky"]  # the last comma
    assert comparison_parts(question, lambda p: p.lower() in known) == ["Sleep, My Love",
                                                                        "Red Sky"]


@pytest.mark.unit
def test_reserve_slots() -> None:
    ranked = [1, 2, 3, 4, 5, 6, 7, 8]
    assert reserve_slots(ranked, [2, 7], 5) == [1, 2, 3, 4, 7, 5, 6, 8]
    assert reserve_slots(ranked, [7, 8], 2) == [7, 8, 1, 2, 3, 4, 5, 6]
    assert reserve_slots(ranked, [1, 3], 5) == ranked  # already inside
    assert reserve_slots(ranked, [99], 5) == ranked  # unknown ids are ignored
    assert reserve_slots(ranked, [7], 0) == ranked


@pytest.mark.unit
def test_title_aliases() -> None:
    from indexes.kg.linking import title_aliases

    assert title_aliases("Hello Love (song)") == ["Hello Love"]
    assert title_aliases("WILM (AM)") == ["WILM"]
    assert title_aliases("Oslo") == [] and title_aliases("(film)") == []


@pytest.mark.unit
def test_graph_settings_defaults_match_the_index() -> None:
    from indexes.kg import KGSettings
    from rag.settings import GraphSettings

    graph, kg = GraphSettings(), KGSettings()
    for knob in ("max_hops", "hop_passages", "hop_entities", "hop_decay", "comparison",
                 "evidence_window", "title_aliases"):
        assert getattr(graph, knob) == getattr(kg, knob), knob
    with pytest.raises(ValueError):
        KGSettings(max_hops=0)
    with pytest.raises(ValueError):
        KGSettings(hop_decay=0.0)


@pytest.mark.unit
def test_frontier_mines_the_newest_unmined_passages() -> None:
    # a third walk reads what the second brought in, not the first walk's top again
    assert frontier([], [5, 6, 7], set(), 1) == [5]
    assert frontier([8, 9], [5, 8, 6, 9], {5}, 1) == [8]
    assert frontier([8], [5, 8, 6], {5, 8}, 2) == [6]  # topped up from the ranking
    assert frontier([], [5], {5}, 1) == []
