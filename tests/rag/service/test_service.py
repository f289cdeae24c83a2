"""RagService over real parts (MiniLM, FAISS, bm25s, SQLite): ingest, retrieve, ask, delete."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.errors import (
    ConflictError,
    EmbedderMismatchError,
    InvalidInputError,
    NotFoundError,
)
from rag.retrieval.base import RetrievedPassages
from rag.service.core import RagService
from rag.settings import Settings

pytestmark = pytest.mark.integration

CORPUS_FILE = Path(__file__).resolve().parents[2] / "data" / "foundation" / "corpus.jsonl"
# question -> id of the one document that answers it
QUERIES = {
    "Who was the first woman to win a Nobel Prize?": "curie",
    "When was the Eiffel Tower completed?": "eiffel",
    "How do plants make glucose from sunlight?": "photosynthesis",
    "Which Roman city did Mount Vesuvius bury?": "volcano",
    "Who made the first ascent of the highest mountain on Earth?": "everest",
    "Who created the Python programming language?": "python",
}
CJK_QUERIES = {"中国的首都": "beijing", "日本の首都": "tokyo"}


def corpus_records() -> list[dict]:
    return [json.loads(line) for line in CORPUS_FILE.read_text(encoding="utf-8").splitlines()]


def make_service(data_dir: Path, embedder, **settings) -> RagService:
    return RagService(Settings(data_dir=data_dir, **settings), embedder=embedder).open()


def ingest(service: RagService, name: str, records: list[dict]):
    collection = service.collection(name, create=True)
    job_id, results = service.add_documents(collection, service.parse_records(records))
    if job_id:
        service.run_job(job_id)
    return collection, job_id, results


def top_documents(service: RagService, collection, query: str, *, retriever: str = "hybrid",
                  k: int = 5) -> list[str]:
    passages = service.retrieve(collection, query, retriever=retriever, top_k=k).passages
    return [p.document_id for p in passages]


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    """A data dir with the corpus ingested into collection 'kb' (built once, then copied)."""
    data_dir = tmp_path_factory.mktemp("built")
    service = make_service(data_dir, embedder)
    ingest(service, "kb", corpus_records())
    service.close()
    return data_dir


@pytest.fixture
def service(built, tmp_path, embedder) -> RagService:
    """A service over a private copy of the built data dir."""
    data_dir = tmp_path / "data"
    shutil.copytree(built, data_dir)
    svc = make_service(data_dir, embedder)
    yield svc
    svc.close()


@pytest.fixture
def kb(service):
    return service.collection("kb")


@pytest.mark.parametrize("retriever", ["bm25", "dense", "hybrid"])
def test_every_retriever_finds_the_answering_document(service, kb, retriever) -> None:
    for query, expected in QUERIES.items():
        assert top_documents(service, kb, query, retriever=retriever)[0] == expected, query


@pytest.mark.parametrize("retriever", ["bm25", "hybrid"])
def test_cjk_questions_find_cjk_documents(service, kb, retriever) -> None:
    for query, expected in CJK_QUERIES.items():
        assert top_documents(service, kb, query, retriever=retriever)[0] == expected, query


def test_ingest_reports_and_indexes_everything(service, kb) -> None:
    docs = service.store.list_documents(kb)
    assert len(docs) == len(corpus_records())
    assert all(d["status"] == "indexed" for d in docs)
    assert {d["id"] for d in docs} == {r["id"] for r in corpus_records()}
    curie = service.store.get_document(kb, "curie")
    assert curie["title"] == "Marie Curie" and curie["metadata"] == {"topic": "curie"}


def test_passages_are_exact_spans_of_their_documents(service, kb) -> None:
    found = service.retrieve(kb, "Nobel Prize physics chemistry", top_k=3)
    assert isinstance(found, RetrievedPassages) and not found.abstained
    passages, trace = found.passages, found.trace
    assert 1 <= len(passages) <= 3
    for p in passages:
        record = service.store.get_document(kb, p.document_id, with_text=True)
        assert record["text"][p.start:p.end] == p.text
        assert p.title == record["title"]
    assert trace["retriever"] == "hybrid" and trace["top_k"] == 3
    assert trace["fused"] == ["bm25", "dense"] and trace["rrf_k"] == 60
    assert trace["latency_ms"] >= 0


def test_retrieved_passages_abstain_when_crag_says_so() -> None:
    assert RetrievedPassages([], {"crag": {"abstain": True}}).abstained
    assert not RetrievedPassages([], {"crag": {"abstain": False}}).abstained
    assert not RetrievedPassages([]).abstained


def test_default_top_k_comes_from_settings(service, kb) -> None:
    found = service.retrieve(kb, "history")
    passages, trace = found.passages, found.trace
    assert trace["top_k"] == 5 and len(passages) <= 5


def test_ask_answers_with_exact_citations(service, kb) -> None:
    answer = service.ask(kb, "Who was the first woman to win a Nobel Prize?")
    assert not answer.abstained and answer.generator == "extractive"
    assert answer.citations and answer.citations[0].document_id == "curie"
    # the short span read from the cited sentences (issue 17); the sentences are evidence
    assert answer.answer.startswith("Marie Curie")
    assert "first woman to win a Nobel Prize" in answer.supporting_text
    for n, citation in enumerate(answer.citations, start=1):
        text = service.store.get_document(kb, citation.document_id, with_text=True)["text"]
        assert text[citation.start:citation.end] == citation.text
        assert f"[{n}]" in answer.supporting_text
    data = answer.to_dict()
    assert set(data) == {"answer", "supporting_text", "citations", "abstained", "generator", "retrieval"}
    assert set(data["citations"][0]) == {"chunk_id", "document_id", "title", "text", "start",
                                         "end", "score"}
    assert data["retrieval"]["retriever"] == "hybrid"


@pytest.mark.parametrize(
    ("query", "top_k", "match"),
    [
        ("", 3, "empty"),
        ("   \n", 3, "empty"),
        ("x" * 4001, 3, "too long"),
        ("fine", 0, "top_k"),
        ("fine", -1, "top_k"),
        ("fine", 101, "top_k"),
        ("fine", 10**6, "top_k"),
    ],
)
def test_bad_questions_are_rejected(service, kb, query, top_k, match) -> None:
    with pytest.raises(InvalidInputError, match=match):
        service.retrieve(kb, query, top_k=top_k)
    with pytest.raises(InvalidInputError, match=match):
        service.ask(kb, query, top_k=top_k)


def test_unknown_retriever_and_collection(service, kb) -> None:
    with pytest.raises(InvalidInputError, match="unknown retriever 'magic'"):
        service.retrieve(kb, "tower", retriever="magic")
    with pytest.raises(NotFoundError, match="nope"):
        service.collection("nope")
    with pytest.raises(ConflictError):
        service.create_collection("kb")
    with pytest.raises(InvalidInputError):
        service.collection("../etc", create=True)


def test_empty_collection_abstains(service) -> None:
    empty = service.create_collection("empty")
    passages = service.retrieve(empty, "anything at all").passages
    assert passages == []
    answer = service.ask(empty, "What is anything?")
    assert answer.abstained and answer.citations == []


def test_reingesting_the_same_documents_is_a_no_op(service, kb) -> None:
    seq = service.store.last_op_seq(kb)
    job_id, results = service.add_documents(kb, service.parse_records(corpus_records()))
    assert job_id is None
    assert {r["status"] for r in results} == {"duplicate"}
    assert service.store.last_op_seq(kb) == seq


def test_replacing_a_document(service, kb) -> None:
    new = {"id": "chess", "title": "Chess", "text": "Shogi is the Japanese cousin of chess, "
           "played on a nine by nine board where captured pieces change sides."}
    job_id, results = service.add_documents(kb, service.parse_records([new]))
    assert results == [{"id": "chess", "status": "updated"}]
    service.run_job(job_id)
    assert top_documents(service, kb, "captured pieces change sides shogi")[0] == "chess"
    for retriever in ("bm25", "dense", "hybrid"):
        passages = service.retrieve(kb, "Garry Kasparov world champion", retriever=retriever).passages
        assert all("Kasparov" not in p.text for p in passages)


def test_deleted_document_never_appears(service, kb, embedder) -> None:
    query = "When was the Eiffel Tower completed?"
    assert top_documents(service, kb, query)[0] == "eiffel"
    job_id = service.delete_document(kb, "eiffel")
    for retriever in ("bm25", "dense", "hybrid"):  # at once, before the job runs
        assert "eiffel" not in top_documents(service, kb, query, retriever=retriever, k=20)
    service.run_job(job_id)
    assert service.store.get_job(job_id)["status"] == "done"
    with pytest.raises(NotFoundError):
        service.store.get_document(kb, "eiffel")
    with pytest.raises(NotFoundError):
        service.delete_document(kb, "eiffel")
    service.close()  # one open service per data dir
    restarted = make_service(service.settings.data_dir, embedder)
    kb2 = restarted.collection("kb")
    for retriever in ("bm25", "dense", "hybrid"):
        assert "eiffel" not in top_documents(restarted, kb2, query, retriever=retriever, k=20)
    assert restarted.indexes.get(kb2).dense.count() == restarted.indexes.get(kb2).bm25.count()


def test_delete_collection_removes_files_and_name_can_be_reused(service, kb) -> None:
    folder = service.indexes.folder("kb")
    assert (folder / "manifest.json").exists()
    service.delete_collection("kb")
    assert not folder.exists()
    with pytest.raises(NotFoundError):
        service.collection("kb")
    again, _, _ = ingest(service, "kb", corpus_records()[:2])
    assert sorted(d["id"] for d in service.store.list_documents(again)) == ["curie", "eiffel"]
    assert top_documents(service, again, "Nobel Prize")[0] == "curie"
    assert set(top_documents(service, again, "volcano lava", k=10)) <= {"curie", "eiffel"}


def test_job_progress_is_recorded(service) -> None:
    collection, job_id, _ = ingest(service, "progress", corpus_records()[:3])
    job = service.store.get_job(job_id)
    assert job["status"] == "done" and job["done"] == job["total"] >= 3
    assert job["collection"] == "progress" and job["kind"] == "index"


def test_failed_job_records_its_error(service, monkeypatch) -> None:
    collection = service.create_collection("failing")
    job_id, _ = service.add_documents(collection, service.parse_records(corpus_records()[:1]))

    def boom(*args, **kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(service.indexes, "sync", boom)
    with pytest.raises(OSError):
        service.run_job(job_id)
    job = service.store.get_job(job_id)
    assert job["status"] == "failed" and "disk on fire" in job["error"]
    # the documents are still safely stored: a later job indexes them
    monkeypatch.undo()
    retry = service.store.create_job(collection, kind="index", total=0)
    service.run_job(retry)
    assert top_documents(service, collection, "Nobel Prize") == ["curie"]


def test_collection_pinned_to_another_embedder(service) -> None:
    other = service.store.create_collection("foreign", embedder="bge-large", dim=1024)
    with pytest.raises(EmbedderMismatchError, match="bge-large"):
        service.retrieve(other, "anything")


def test_parse_validation(service) -> None:
    with pytest.raises(InvalidInputError, match="no files"):
        service.parse_files([])
    with pytest.raises(InvalidInputError, match="empty"):
        service.parse_records([])
    small = RagService(Settings(data_dir=service.settings.data_dir,  # not opened: no store use
                                limits={"max_documents_per_request": 2}), embedder=service.embedder)
    with pytest.raises(InvalidInputError, match="too many"):
        small.parse_records(corpus_records()[:3])
