"""The offline short-answer reader: question types, dates, spans, choices and yes/no,
with the real spaCy model (en_core_web_sm from its installed package)."""

from __future__ import annotations

import pytest

from rag.generation.answers import Passage
from rag.generation.question_types import analyze, choice_options, find_dates, life_dates
from rag.generation.reader import (
    Reader,
    ScoredSentence,
    aggregate,
    bridge_passage,
    named_in,
    nationality_key,
    option_passage,
    proximity,
    relation_chain,
)
from rag.ingest.chunking import split_sentences


def passage(n: int, title: str, text: str) -> Passage:
    return Passage(n, f"d{n}", title, text, 0, len(text), 1.0 - n / 10)


def sentences_of(passages: list[Passage]) -> list[ScoredSentence]:
    """Every sentence, scored by rank only (the extractive scores are tested elsewhere)."""
    return [ScoredSentence(n, s, e, 1.0 - n / 10) for n, p in enumerate(passages)
            for s, e in split_sentences(p.text)]


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


@pytest.mark.parametrize(("question", "kind", "types"), [
    ("Who directed Sleep, My Love?", "entity", ("PERSON",)),
    ("Where was the director of film Timber Falls born?", "entity", ("GPE", "LOC", "FAC", "ORG")),
    ("What is the place of birth of the director of film Dollar?", "entity", ("GPE", "LOC", "FAC")),
    ("When did the composer of film The Sparrow's Fluttering die?", "entity", ("DATE",)),
    ("What is the date of death of the director of film Never Fear?", "entity", ("DATE",)),
    ("How many Publix stores are in Georgia?", "entity", ("CARDINAL", "QUANTITY", "MONEY", "PERCENT")),
    ("What nationality is Clarice Orsini's husband?", "entity", ("NORP", "GPE", "LANGUAGE")),
    ("Are Christopher Nolan and Sathish Kalathil both film directors?", "yesno", ()),
    ("Which film came out first, Brudebuketten or Clownery?", "choice", ()),
    ("Why did she move to Paris?", "open", ()),
    ("How did she travel?", "open", ()),
])
def test_analyze_maps_wh_words_to_answer_types(question: str, kind: str, types: tuple) -> None:
    qtype = analyze(question)
    assert (qtype.kind, qtype.types) == (kind, types)


def test_choice_options_order_and_event() -> None:
    q = analyze("Which film has the director who died later, The More The Merrier or Sleep, My Love?")
    assert q.options == ("The More The Merrier", "Sleep, My Love")
    assert (q.order, q.event) == ("late", "death")
    assert analyze("Who was born first, Ann or Bea?").order == "early"
    assert analyze("Which film whose director is younger, A Film or B Film?").order == "late"
    assert analyze("Who lived longer, Ann Ames or Bea Bell?").order == "longer"
    # A title's own question mark stays part of the option.
    assert choice_options("Which film came out first, Forgotten Pills or Why Does Herr R. Run Amok??") \
        == ("Forgotten Pills", "Why Does Herr R. Run Amok?")
    assert choice_options("Who wrote Hamlet?") == ()


def test_find_dates_normalises_forms() -> None:
    keys = [d.key for d in find_dates("On 1 May 1905, May 3, 1906, June 1907 and in 1908 too; 953 no")]
    assert keys == [(1905, 5, 1), (1906, 5, 3), (1907, 6, 0), (1908, 0, 0)]
    assert find_dates("He died in 953.")[0].key == (953, 0, 0)
    assert find_dates("a 1200 km road") == []


def test_life_dates_reads_birth_and_death() -> None:
    birth, death = life_dates("Henry Koster (1 May 1905 – 21 September 1988) was a director.")
    assert (birth.key, death.key) == ((1905, 5, 1), (1988, 9, 21))
    birth, death = life_dates("Jo Smith (born March 3, 1950) is an actor.")
    assert birth.text == "March 3, 1950" and death is None
    assert life_dates("Marzuban (died 953) was a king.")[1].key == (953, 0, 0)


def test_helpers() -> None:
    assert named_in("Sleep, My Love", "which film came out first sleep my love or clownery")
    assert not named_in("Douglas Sirk", "who directed sleep my love")
    assert nationality_key("American") == nationality_key("United States") == "united states"
    assert proximity(20, 26, "He was born in Berlin", 0, {"born"}) > proximity(
        20, 26, "He was born in x y z w v Berlin", 0, {"born"}) * 0  # nearer scores higher
    near = proximity(15, 21, "He was born in Berlin.", 0, {"born"})
    far = proximity(27, 33, "He was born in a town near Berlin.", 0, {"born"})
    assert near > far > 0 and proximity(0, 2, "He", 0, {"born"}) == 0.0
    rows = aggregate([("Cork", 1.0, 0, 0), ("cork", 0.9, 1, 3), ("Dublin", 1.05, 0, 1)])
    assert rows[0][0] == "Cork" and rows[0][1] > 1.05  # two passages name it
    films = [passage(0, "Sleep, My Love", "Sleep, My Love is a 1948 film directed by Douglas Sirk."),
             passage(1, "Douglas Sirk", "Douglas Sirk (26 April 1897 – 14 January 1987) was a director.")]
    assert option_passage("Sleep, My Love", films) == 0 and option_passage("Clownery", films) is None
    assert bridge_passage(0, "director", films) == 1


def test_entity_span_of_the_wanted_type(reader: Reader) -> None:
    ps = [passage(0, "Timber Falls", "Timber Falls is a 2007 horror film directed by Tony Giglio."),
          passage(1, "Tony Giglio", "Tony Giglio (born 1971) is an American film director. "
                                    "He was born in Medford, Massachusetts. He lives in Los Angeles.")]
    got = reader.read("Where was the director of film Timber Falls born?", ps, sentences_of(ps))
    assert got is not None and got.text.startswith("Medford") and got.kind == "entity"
    sentence = sentences_of(ps)[got.support[0]]
    assert "Medford" in ps[sentence.passage].text[sentence.start:sentence.end]
    who = reader.read("Who directed Timber Falls?", ps, sentences_of(ps))
    assert who is not None and who.text == "Tony Giglio"
    when = reader.read("When was the director of film Timber Falls born?", ps, sentences_of(ps))
    assert when is not None and when.text == "1971"


def test_span_the_question_names_is_left_out(reader: Reader) -> None:
    ps = [passage(0, "Ann Ames", "Ann Ames married Bob Bell in 1950. Ann Ames was a writer.")]
    got = reader.read("Who was the husband of Ann Ames?", ps, sentences_of(ps))
    assert got is not None and got.text == "Bob Bell"


def test_choice_compares_dates_through_the_relation(reader: Reader) -> None:
    ps = [passage(0, "The More the Merrier", "The More the Merrier is a 1943 film directed by George Stevens."),
          passage(1, "Sleep, My Love", "Sleep, My Love is a 1948 film directed by Douglas Sirk."),
          passage(2, "George Stevens", "George Stevens (December 18, 1904 – March 8, 1975) was a director."),
          passage(3, "Douglas Sirk", "Douglas Sirk (26 April 1897 – 14 January 1987) was a director.")]
    sentences = sentences_of(ps)
    late = reader.read("Which film has the director who died later, The More The Merrier or "
                       "Sleep, My Love?", ps, sentences)
    assert late is not None and late.text == "Sleep, My Love" and late.score == 1.0
    assert {sentences[i].passage for i in late.support} == {2, 3}
    older = reader.read("Which film has the director who is older, The More The Merrier or "
                        "Sleep, My Love?", ps, sentences)
    assert older is not None and older.text == "Sleep, My Love"  # born 1897
    first = reader.read("Which film came out first, The More The Merrier or Sleep, My Love?",
                        ps, sentences)
    assert first is not None and first.text == "The More The Merrier"  # 1943


def test_yes_no_same_country(reader: Reader) -> None:
    ps = [passage(0, "Ann Ames", "Ann Ames (born 1950) is an American poet."),
          passage(1, "Bea Bell", "Bea Bell (born 1960) is a poet from the United States."),
          passage(2, "Cy Carr", "Cy Carr (born 1961) is a French poet.")]
    same = reader.read("Are Ann Ames and Bea Bell from the same country?", ps, sentences_of(ps))
    assert same is not None and same.text == "yes"
    other = reader.read("Are Ann Ames and Cy Carr from the same country?", ps, sentences_of(ps))
    assert other is not None and other.text == "no"
    both = reader.read("Are Ann Ames and Cy Carr both poets?", ps, sentences_of(ps))
    assert both is not None and both.text == "yes"
    assert reader.read("Are Ann Ames and Cy Carr both painters?", ps, sentences_of(ps)).text == "no"


def test_nothing_fits_returns_none(reader: Reader) -> None:
    ps = [passage(0, "Notes", "Parking is on level two.")]
    assert reader.read("Who built it?", ps, sentences_of(ps)) is None
    assert reader.read("Who built it?", [], []) is None


def test_relation_chain_nearest_the_named_entity_first() -> None:
    assert relation_chain("Who is the father of the director of film X?") == ["director", "father"]
    assert relation_chain("Who is X's paternal grandfather?") == ["father", "father"]
    assert relation_chain("Who is X's maternal grandmother?") == ["mother", "mother"]
    assert relation_chain("Where was Ann born?") == []


def test_grandfather_follows_two_hops(reader: Reader) -> None:
    ps = [passage(0, "Ed Howard", "Ed Howard (1646 – 1692) was an English politician. "
                                  "He was the son of Charles Howard and Anne Smith."),
          passage(1, "Charles Howard", "Charles Howard (1629 – 1685) was an English leader. "
                                       "Howard was the son of William Howard of Naworth."),
          passage(2, "Tom Brown", "Tom Brown was the son of Ed Howard's neighbour.")]
    got = reader.read("Who is Ed Howard's paternal grandfather?", ps, sentences_of(ps))
    assert got is not None and got.text == "William Howard"
    father = reader.read("Who is the father of Ed Howard?", ps, sentences_of(ps))
    assert father is not None and father.text == "Charles Howard"


def test_attribute_is_read_in_the_passage_the_relation_leads_to(reader: Reader) -> None:
    ps = [passage(0, "Mill Song", "Mill Song is a 1950 song performed by Ann Ames. It was "
                                  "recorded in Chicago."),
          passage(1, "Ann Ames", "Ann Ames is a singer. She was born in Dallas.")]
    got = reader.read("Where was the performer of song Mill Song born?", ps, sentences_of(ps))
    assert got is not None and got.text == "Dallas"


def test_untyped_question_needs_its_head_noun_in_the_sentence(reader: Reader) -> None:
    ps = [passage(0, "Minutes", "Section 36 was read aloud. The vault code chosen by the "
                                "curator is kept by Ann Ames.")]
    got = reader.read("What is the vault code chosen by the curator?", ps, sentences_of(ps))
    assert got is not None and got.text == "Ann Ames"  # not "Section 36"
    assert reader.read("What is the vault combination chosen by the curator?", ps,
                       sentences_of(ps)) is None  # no sentence names a combination
