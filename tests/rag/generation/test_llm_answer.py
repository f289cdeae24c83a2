"""The LLM answerer over a scripted generator: prompt, citation checking, streaming."""

from __future__ import annotations

import pytest

from rag.generation.answers import NO_ANSWER, Answer, Citation, Passage
from rag.generation.base import GenerationParams, Generator, as_messages, parse_json_object
from rag.generation.llm_answer import LLMAnswerer, answer_events, stream_whole
from rag.generation.prompts import NOT_IN_CONTEXT
from tests.rag.generation.fakes import ScriptedGenerator

pytestmark = pytest.mark.unit

PASSAGES = [
    Passage(11, "eiffel", "Eiffel Tower", "The tower is named after Gustave Eiffel.", 0, 40, 0.9),
    Passage(12, "berlin", "Berlin", "Berlin is the capital of Germany.", 5, 38, 0.5),
    Passage(13, "paris", "Paris", "Paris is the capital of France.", 0, 31, 0.4),
]


def test_scripted_generator_fits_the_protocol():
    assert isinstance(ScriptedGenerator("x"), Generator)


def test_answer_keeps_valid_citations_renumbered_and_drops_made_up_ones():
    # display order is [Eiffel, Paris, Berlin]: the model's [3] is Berlin, [9] names nothing
    gen = ScriptedGenerator("Named after Gustave Eiffel [1][9]. Berlin is a capital [3].")
    answerer = LLMAnswerer(gen, max_tokens=64).load()
    assert gen.loaded and answerer.name == "scripted"
    answer = answerer.answer("Who is the tower named after?", PASSAGES)
    assert answer.answer == "Named after Gustave Eiffel [1]. Berlin is a capital [2]."
    assert [c.chunk_id for c in answer.citations] == [11, 12]
    assert answer.citations[1] == Citation(12, "berlin", "Berlin", PASSAGES[1].text, 5, 38, 0.5)
    assert not answer.abstained and answer.generator == "scripted"
    system, user = gen.prompts[-1]
    assert "[1] Eiffel Tower" in user["content"] and "[3] Berlin" in user["content"]


def test_abstains_when_the_model_says_the_context_lacks_the_answer_or_nothing_was_found():
    gen = ScriptedGenerator(f"{NOT_IN_CONTEXT} [2]")
    answer = LLMAnswerer(gen).answer("Who painted the Mona Lisa?", PASSAGES)
    assert answer.abstained and answer.citations == []
    empty = LLMAnswerer(gen).answer("anything", [])
    assert empty.abstained and empty.answer == NO_ANSWER
    assert len(gen.prompts) == 1  # no model call without passages


def test_stream_yields_checked_pieces_then_the_same_answer_as_answer():
    reply = "Named after Gustave Eiffel [1][9]. Berlin is a capital [3]."
    answerer = LLMAnswerer(ScriptedGenerator(reply))
    events = list(answerer.stream("Who?", PASSAGES))
    assert all(e.answer is None for e in events[:-1]) and len(events) > 3
    final = events[-1].answer
    assert final == answerer.answer("Who?", PASSAGES)
    streamed = "".join(e.text for e in events[:-1])
    assert " ".join(streamed.split()).replace(" .", ".") == final.answer


def test_answer_events_streams_whole_answers_and_attaches_the_trace():
    whole = Answer("First fact [1] Second fact [2]", [], False, "extractive")

    class Whole:
        name = "extractive"

        def answer(self, question, passages):
            return whole

    events = list(answer_events(Whole(), "q", PASSAGES, {"retriever": "bm25"}))
    assert [e.text for e in events[:-1]] == ["First fact [1] ", "Second fact [2]"]
    assert events[-1].answer is whole and whole.retrieval == {"retriever": "bm25"}
    assert "".join(e.text for e in stream_whole(whole)) == whole.answer
    llm = list(answer_events(LLMAnswerer(ScriptedGenerator("A [1].")), "q", PASSAGES, {"k": 1}))
    assert llm[-1].answer.retrieval == {"k": 1}


def test_the_prompt_fits_the_models_context_less_the_answer():
    long = [Passage(n, "d", "T", " ".join(["word"] * 300), 0, 1500, 1.0) for n in range(10)]
    gen = ScriptedGenerator("A [1].", max_model_len=1000)
    LLMAnswerer(gen, max_tokens=200, max_context_tokens=5000).answer("q", long)
    assert sum(len(m["content"].split()) for m in gen.prompts[-1]) <= 800


def test_params_and_messages_are_validated():
    with pytest.raises(ValueError, match="max_tokens"):
        GenerationParams(max_tokens=0)
    with pytest.raises(ValueError, match="top_p"):
        GenerationParams(top_p=0)
    with pytest.raises(ValueError, match="empty"):
        as_messages("  ")
    with pytest.raises(ValueError, match="role"):
        as_messages([{"role": "robot", "content": "x"}])
    assert as_messages("hi") == [{"role": "user", "content": "hi"}]


def test_parse_json_object():
    assert parse_json_object('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_object('Sure: {"a": [1, 2]} done') == {"a": [1, 2]}
    from rag.generation.base import GenerationError

    for bad in ("[1, 2]", "no json", '{"a": '):
        with pytest.raises(GenerationError):
            parse_json_object(bad)
