"""Abstention on the default path (issue 19.3), through RagService over real parts.

The fixture corpus (tests/data/foundation) plus a markdown note with a parking table, a
Chinese page about pandas and one about Berlin: off-topic questions abstain with the
default retriever, answerable ones (the markdown table, the Chinese question included)
are answered, and a question whose only document was deleted abstains.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.generation.answers import NO_ANSWER
from rag.service.core import RagService
from rag.settings import Settings

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "data" / "foundation" / "corpus.jsonl"
FALCON_MD = ("# Project Falcon notes\n\n## Parking\n\n| Where | What |\n|---|---|\n"
             "| Garage | Level -2, spots 40 to 55 |\n\n## Lunch\n\nThe canteen serves lunch from noon.\n")
EXTRA = [
    {"id": "panda", "title": "大熊猫",
     "text": "大熊猫是中国特有的动物，生活在四川的山林里。大熊猫主要吃竹子，每天要吃十几公斤。"},
    {"id": "berlin", "title": "Berlin",
     "text": "Berlin is the capital and largest city of Germany. The Spree flows through it."},
]
ANSWERABLE = {
    "Who was the first woman to win a Nobel Prize?": "curie",
    "When was the Eiffel Tower completed?": "eiffel",
    "How do plants make glucose from sunlight?": "photosynthesis",
    "Which Roman city did Mount Vesuvius bury?": "volcano",
    "Who created the Python programming language?": "python",
    "What is the capital of Germany?": "berlin",
    "Where can I park?": "Level -2",  # falcon.md's id is its hash: its table row instead
    "熊猫吃什么": "panda",
    "中国的首都": "beijing",
}
OFF_TOPIC = ["Who won the 2018 FIFA World Cup?", "What is the boiling point of mercury?",
             "How do I reset my router password?", "Who painted the Mona Lisa?"]


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    data_dir = tmp_path_factory.mktemp("abstain")
    service = RagService(Settings(data_dir=data_dir), embedder=embedder).open()
    kb = service.collection("kb", create=True)
    records = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    docs = service.parse_records(records + EXTRA) + service.parse_files([("falcon.md", FALCON_MD.encode())])
    job_id, _ = service.add_documents(kb, docs)
    service.run_job(job_id)
    service.close()
    return data_dir


@pytest.fixture
def service(built, tmp_path, embedder):
    shutil.copytree(built, tmp_path / "data")
    svc = RagService(Settings(data_dir=tmp_path / "data"), embedder=embedder).open()
    yield svc
    svc.close()


def assert_abstains(answer) -> None:
    assert answer.abstained is True, answer.answer
    assert answer.citations == []
    assert answer.answer.startswith(NO_ANSWER) and "Why:" in answer.answer
    block = answer.retrieval["evidence_check"]
    assert block["abstain"] is True and block["reason"] in answer.answer
    assert set(block["thresholds"]) == {"cosine", "coverage", "weight", "score", "strong_cosine"}
    assert block["coverage"] is not None and block["cosine"] is not None


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_abstain_on_the_default_path(service, question) -> None:
    answer = service.ask(service.collection("kb"), question)
    assert answer.retrieval["retriever"] == service.settings.retrieval.retriever == "hybrid"
    assert_abstains(answer)


def test_answerable_questions_are_answered(service) -> None:
    kb = service.collection("kb")
    for question, doc in ANSWERABLE.items():
        for retriever in ("hybrid", "crag"):
            answer = service.ask(kb, question, retriever=retriever)
            assert not answer.abstained, (retriever, question, answer.answer)
            assert answer.retrieval["evidence_check"]["abstain"] is False
            found = {c.document_id for c in answer.citations} | {c.text for c in answer.citations}
            assert any(doc in f for f in found), (retriever, question, answer.answer)


def test_a_deleted_documents_question_abstains(service) -> None:
    kb = service.collection("kb")
    question = "What is the capital of Germany?"
    assert not service.ask(kb, question).abstained
    service.delete_document(kb, "berlin")
    assert_abstains(service.ask(kb, question))


def test_streamed_answers_abstain_too(service) -> None:
    kb = service.collection("kb")
    events = list(service.ask_stream(kb, OFF_TOPIC[0]))
    final = events[-1].answer
    assert_abstains(final)
    assert "".join(e.text for e in events[:-1]) == final.answer


def test_the_check_can_be_turned_off(built, tmp_path, embedder) -> None:
    shutil.copytree(built, tmp_path / "data")
    settings = Settings(data_dir=tmp_path / "data", retrieval={"evidence": {"enabled": False}})
    svc = RagService(settings, embedder=embedder).open()
    try:
        answer = svc.ask(svc.collection("kb"), OFF_TOPIC[0])
        assert "evidence_check" not in answer.retrieval
    finally:
        svc.close()


def test_bm25_is_checked_lexically(service) -> None:
    """A bm25 ask decides on its terms alone: no cosine, so no query encode (a bm25
    retrieve from the CLI must not load the embedding model)."""
    kb = service.collection("kb")
    off = service.ask(kb, OFF_TOPIC[0], retriever="bm25")
    assert off.abstained is True and off.citations == []
    assert off.retrieval["evidence_check"]["cosine"] is None
    on = service.ask(kb, "When was the Eiffel Tower completed?", retriever="bm25")
    assert not on.abstained, on.answer
    assert on.retrieval["evidence_check"]["cosine"] is None
