"""The service hands its configured LLM to fusion, crag and adaptive; crag.json is cached.

The LLM is a test double implementing the `Generator` protocol (no LLM can run in CI):
`generate_json` answers RAG-Fusion's query prompt and CRAG's grading prompt with fixed
replies and records every prompt, so the tests prove where variants and grades came
from. Everything else is real (MiniLM, FAISS, bm25s, SQLite).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.generation.llm_answer import LLMAnswerer
from rag.retrieval.context import load_calibration, save_calibration
from rag.service.core import RagService
from rag.settings import Settings

pytestmark = pytest.mark.integration

CORPUS_FILE = Path(__file__).resolve().parents[2] / "data" / "foundation" / "corpus.jsonl"
QUESTION = "Who was the first woman to win a Nobel Prize?"
LLM_QUERIES = ["Marie Curie Nobel Prize", "first female Nobel laureate"]


class FakeLLM:
    """Test double of an LLM backend (`rag.generation.base.Generator`)."""

    name = "fake"
    max_model_len = 2048

    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken
        self.json_prompts: list[tuple[str, list[str]]] = []  # (prompt, schema's required keys)

    def load(self) -> FakeLLM:
        return self

    def close(self) -> None:
        pass

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt, params=None) -> str:
        return "Marie Curie [1]."

    def stream(self, prompt, params=None) -> Iterator[str]:
        yield self.generate(prompt, params)

    def generate_json(self, prompt, schema, params=None) -> dict:
        self.json_prompts.append((prompt, list(schema.get("required", []))))
        if self.broken:
            return {"nothing": "useful"}
        if "queries" in schema["properties"]:
            return {"queries": LLM_QUERIES}
        n = prompt.count("\n[")
        return {"grades": [0.9] + [0.05] * (n - 1)}

    def kinds(self) -> list[str]:
        return [required[0] for _, required in self.json_prompts]


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    data_dir = tmp_path_factory.mktemp("llm-built")
    service = RagService(Settings(data_dir=data_dir), embedder=embedder).open()
    collection = service.collection("kb", create=True)
    records = [json.loads(line) for line in CORPUS_FILE.read_text(encoding="utf-8").splitlines()]
    job_id, _ = service.add_documents(collection, service.parse_records(records))
    service.run_job(job_id)
    _close(service)
    return data_dir


def _close(service: RagService) -> None:
    close = getattr(service, "close", None)
    close() if callable(close) else service.store.close()


def _service(built: Path, tmp_path: Path, embedder, monkeypatch, llm: FakeLLM,
             **generation) -> RagService:
    import shutil

    data_dir = tmp_path / "data"
    shutil.copytree(built, data_dir)
    monkeypatch.setattr("rag.service.core.make_answerer",
                        lambda name, settings, **_: LLMAnswerer(llm))
    return RagService(Settings(data_dir=data_dir, generation=generation), embedder=embedder).open()


@pytest.fixture
def llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def service(built, tmp_path, embedder, monkeypatch, llm):
    svc = _service(built, tmp_path, embedder, monkeypatch, llm)
    yield svc
    _close(svc)


def test_fusion_variants_come_from_the_requested_generator(service, llm):
    kb = service.collection("kb")
    trace = service.retrieve(kb, QUESTION, retriever="fusion", generator="vllm").trace
    assert trace["path"] == "llm" and trace["llm"] == "vllm"
    llm_variants = [v["text"] for v in trace["variants"] if v["kind"] == "llm"]
    assert llm_variants == LLM_QUERIES
    assert "prf" not in {v["kind"] for v in trace["variants"]}
    assert llm.kinds() == ["queries"] and QUESTION in llm.json_prompts[0][0]


def test_crag_grades_come_from_the_requested_generator(service, llm):
    kb = service.collection("kb")
    trace = service.retrieve(kb, QUESTION, retriever="crag", generator="vllm", top_k=3).trace
    assert trace["path"] == "llm" and trace["llm"] == "vllm"
    block = trace["crag"]
    assert block["evaluator"] == "llm" and block["label"] == "correct"
    assert block["scores"] == [0.9] + [0.05] * (len(block["scores"]) - 1)
    assert (block["upper"], block["lower"]) == (0.5, 0.1)  # the settings' thresholds
    assert "grades" in llm.kinds()


def test_extractive_keeps_every_retriever_offline(service, llm):
    kb = service.collection("kb")
    for name in ("fusion", "crag", "adaptive"):
        trace = service.retrieve(kb, QUESTION, retriever=name).trace  # settings: extractive
        assert trace["path"] == "offline" and trace["llm"] is None, name
    trace = service.retrieve(kb, QUESTION, retriever="crag", generator="extractive").trace
    assert trace["crag"]["evaluator"] == "offline"
    trace = service.retrieve(kb, QUESTION, retriever="hybrid", generator="vllm").trace
    assert "llm" not in trace and "path" not in trace  # plain retrievers never start the LLM
    assert llm.json_prompts == []


def test_configured_generator_is_used_and_ask_reports_the_path(built, tmp_path, embedder,
                                                                monkeypatch):
    llm = FakeLLM()
    service = _service(built, tmp_path, embedder, monkeypatch, llm, generator="vllm")
    try:
        kb = service.collection("kb")
        answer = service.ask(kb, QUESTION, retriever="adaptive")
        assert answer.retrieval["path"] == "llm" and answer.retrieval["llm"] == "vllm"
        assert answer.retrieval["route"] in ("single", "multi")
        assert llm.kinds() == ["queries"]
        answer = service.ask(kb, QUESTION, retriever="fusion", generator="extractive")
        assert answer.retrieval["path"] == "offline" and answer.retrieval["llm"] is None
        assert llm.kinds() == ["queries"]  # not asked again
    finally:
        _close(service)


def test_a_failing_llm_falls_back_offline_and_says_why(built, tmp_path, embedder, monkeypatch):
    llm = FakeLLM(broken=True)
    service = _service(built, tmp_path, embedder, monkeypatch, llm)
    try:
        kb = service.collection("kb")
        trace = service.retrieve(kb, QUESTION, retriever="fusion", generator="vllm").trace
        assert trace["path"] == "offline" and "VariantGenerationError" in trace["llm_error"]
        trace = service.retrieve(kb, QUESTION, retriever="crag", generator="vllm").trace
        assert trace["path"] == "offline" and "GradingError" in trace["llm_error"]
        assert trace["crag"]["evaluator"] == "offline"
    finally:
        _close(service)


def test_crag_calibration_is_read_once_and_again_when_rewritten(service):
    kb = service.collection("kb")
    folder = service.indexes.folder("kb")
    save_calibration(folder, {"upper": 0.7, "lower": 0.2})
    for _ in range(3):
        trace = service.retrieve(kb, QUESTION, retriever="crag").trace
        assert (trace["crag"]["upper"], trace["crag"]["lower"]) == (0.7, 0.2)
    assert service._calibrations.reads == 1
    path = save_calibration(folder, {**load_calibration(folder), "upper": 0.8})
    os.utime(path, ns=(1, 1))  # even with an old mtime, a rewrite is a new file
    trace = service.retrieve(kb, QUESTION, retriever="crag").trace
    assert trace["crag"]["upper"] == 0.8 and service._calibrations.reads == 2
    path.unlink()
    trace = service.retrieve(kb, QUESTION, retriever="crag").trace
    assert trace["crag"]["upper"] == service.settings.retrieval.crag.upper
