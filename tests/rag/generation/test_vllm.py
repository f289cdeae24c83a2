"""The real in-process vLLM engine with SmolLM2-135M on CPU: text, stream, JSON, and cited
answers through the service. Skipped without vllm; `make test-vllm` runs them."""

from __future__ import annotations

import re

import pytest

from rag.generation.base import GenerationParams
from rag.generation.vllm import VLLMGenerator
from rag.service.core import RagService
from rag.settings import Settings
from tests.rag.generation.vllm_support import needs_vllm, smollm2_models_dir

pytestmark = needs_vllm

DOCS = [
    {"id": "eiffel", "title": "Eiffel Tower",
     "text": "The Eiffel Tower is a lattice tower in Paris, France. It is named after the "
             "engineer Gustave Eiffel, whose company designed and built it in 1889."},
    {"id": "berlin", "title": "Berlin", "text": "Berlin is the capital and largest city of Germany."},
    {"id": "nile", "title": "Nile", "text": "The Nile is a major river in northeastern Africa."},
]


@pytest.fixture(scope="module")
def service(tmp_path_factory, embedder):
    """A service with the corpus ingested and its vllm generator started (one engine)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("vllm-data"),
                        generation={"models_dir": smollm2_models_dir(), "max_tokens": 64})
    svc = RagService(settings, embedder=embedder).open()
    collection = svc.collection("kb", create=True)
    job_id, _ = svc.add_documents(collection, svc.parse_records(DOCS))
    svc.run_job(job_id)
    svc.answerer("vllm")
    yield svc
    svc.answerer("vllm").close()


@pytest.fixture(scope="module")
def engine(service) -> VLLMGenerator:
    return service.answerer("vllm").generator


def test_generate_stream_and_count_tokens(engine):
    params = GenerationParams(max_tokens=24)
    text = engine.generate("What is the capital of France? Answer in one word.", params)
    assert "paris" in text.lower()
    pieces = list(engine.stream("What is the capital of France? Answer in one word.", params))
    assert len(pieces) >= 2 and "".join(pieces) == text  # greedy: the same text, in pieces
    assert 0 < engine.count_tokens(text) <= 24
    assert engine.count_tokens("hello world") == 2


def test_generate_json_follows_the_schema(engine):
    schema = {"type": "object", "additionalProperties": False, "required": ["city", "country"],
              "properties": {"city": {"type": "string", "maxLength": 30},
                             "country": {"type": "string", "maxLength": 30}}}
    reply = engine.generate_json("Give the capital of France as JSON with keys city and country.",
                                 schema, GenerationParams(max_tokens=80))
    assert set(reply) == {"city", "country"}
    assert all(isinstance(v, str) and len(v) <= 30 for v in reply.values())
    choice = {"type": "object", "required": ["answer"], "additionalProperties": False,
              "properties": {"answer": {"enum": ["yes", "no"]}}}
    assert engine.generate_json("Is Paris in France?", choice, GenerationParams(max_tokens=20))[
        "answer"] in ("yes", "no")


def check_cited(answer, passages) -> None:
    """Every marker names a citation, and every citation is a retrieved passage."""
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers <= set(range(1, len(answer.citations) + 1)), answer.answer
    retrieved = {p.chunk_id for p in passages}
    assert {c.chunk_id for c in answer.citations} <= retrieved


def test_ask_with_vllm_whole_and_streamed(service):
    from rag.generation.llm_answer import answer_events

    collection = service.collection("kb")
    question = "Who is the Eiffel Tower named after?"
    answer = service.ask(collection, question, generator="vllm", top_k=3)
    found = service.retrieve(collection, question, top_k=3)
    passages, trace = found.passages, found.trace
    assert answer.generator == "vllm" and answer.answer.strip()
    assert answer.retrieval["top_k"] == 3
    check_cited(answer, passages)
    assert answer.citations and answer.citations[0].document_id == "eiffel", answer
    print("vllm answer:", answer.answer, [c.document_id for c in answer.citations])
    events = list(answer_events(service.answerer("vllm"), question, passages, trace))
    streamed = events[-1].answer
    assert streamed.answer == answer.answer and streamed.citations == answer.citations
    assert len(events) > 2
