"""Where a collection's graph gets its triples: the configured LLM, imported HippoRAG
files, or offline spaCy; and a graph built from other triples than the settings now pick
is rebuilt."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import rag.service.core
from rag.settings import GenerationSettings, GraphSettings
from tests.rag.service.test_service import ingest, make_service
from tests.rag.test_kg_cli import CORPUS, RECORDS, hipporag_file

pytestmark = pytest.mark.integration

QUESTION = "Where was the director of Blue Harbor born?"
NAME = re.compile(r"(?:[A-Z][a-z]+ )*[A-Z][a-z]+")


class FakeJSONLLM:
    """A test double of an LLM backend's `generate_json` (no LLM runs in CI): answers
    HippoRAG's NER prompt with the capitalized names of the paragraph, and its triple
    prompt by linking the first name to each other one."""

    name = "openai"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate_json(self, prompt: str, schema: dict[str, Any], params: Any = None,
                      ) -> dict[str, Any]:
        self.prompts.append(prompt)
        paragraph = prompt.split("Paragraph:\n", 1)[1].split("\n\nNamed entities:")[0]
        names = list(dict.fromkeys(n for n in NAME.findall(paragraph)
                                   if n not in {"It", "He", "She", "Where", "The"}))
        if "named_entities" in schema["properties"]:
            return {"named_entities": names}
        return {"triples": [[names[0], "related to", other] for other in names[1:]]}


class FakeAnswerer:
    """What `make_answerer` returns for an LLM backend: a loader around `generator`."""

    def __init__(self, generator: FakeJSONLLM) -> None:
        self.generator = generator
        self.name = generator.name

    def load(self) -> FakeAnswerer:
        return self


def records() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def test_llm_generator_supplies_the_graph_openie(tmp_path, embedder, monkeypatch) -> None:
    llm = FakeJSONLLM()
    monkeypatch.setattr(rag.service.core, "make_answerer", lambda *args, **kwargs: FakeAnswerer(llm))
    service = make_service(tmp_path, embedder, generation=GenerationSettings(generator="openai"))
    kb, _, _ = ingest(service, "kb", records())
    assert llm.prompts == []  # ingestion alone never calls the LLM
    found = service.retrieve(kb, QUESTION, retriever="hipporag", top_k=3)
    passages, trace = found.passages, found.trace
    kg = service.indexes.get(kb).kg
    assert kg.stats()["sources"] == {"llm": len(RECORDS)}
    assert trace["kg"]["mode"] == "hybrid"  # LLM triples: facts seed the walk too
    assert trace["kg"]["query_entities"] == ["blue harbor"]  # the LLM's NER of the question
    triple_prompts = [p for p in llm.prompts if "RDF graph" in p]
    assert len(triple_prompts) == len(RECORDS)
    assert {"blue-harbor", "marlowe"} <= {p.document_id for p in passages}
    service.close()


def test_graph_follows_its_triple_sources(tmp_path, embedder) -> None:
    service = make_service(tmp_path, embedder)
    kb, _, _ = ingest(service, "kb", records())
    assert service.indexes.build_kg(kb).stats()["sources"] == {"spacy": len(RECORDS)}
    report = service.indexes.import_openie(kb, hipporag_file(tmp_path / "openie.json"))
    assert report["rebuilt"] and report["stats"]["sources"] == {"import": 7, "spacy": 1}
    service.close()

    # Imported triples no longer preferred: the saved graph is dropped, then rebuilt.
    offline = make_service(tmp_path, embedder, graph=GraphSettings(prefer_sources=[]))
    assert offline.indexes.get(kb).kg is None
    trace = offline.retrieve(kb, QUESTION, retriever="hipporag", top_k=3).trace
    assert trace["kg"]["mode"] == "entity"
    assert offline.indexes.get(kb).kg.stats()["sources"] == {"spacy": len(RECORDS)}
    offline.close()

    again = make_service(tmp_path, embedder)
    kg = again.indexes.build_kg(kb)
    assert kg.stats()["sources"] == {"import": 7, "spacy": 1}
    assert kg.build_info["openie_extracted"] == 0  # every result came from the cache
    assert again.indexes.build_kg(kb) is kg  # current: kept
    again.close()


def test_title_seed_weight_reaches_the_graph(tmp_path: Path, embedder) -> None:
    service = make_service(tmp_path, embedder, graph=GraphSettings(title_seed_weight=0.0))
    kb, _, _ = ingest(service, "kb", records()[:2])
    assert service.indexes.build_kg(kb).settings.title_seed_weight == 0.0
    service.close()


def test_other_settings_with_the_same_triples_keep_the_graph(tmp_path, embedder) -> None:
    service = make_service(tmp_path, embedder, graph=GraphSettings(prefer_sources=[]))
    kb, _, _ = ingest(service, "kb", records()[:3])
    built = service.indexes.build_kg(kb)
    assert built.source_order == ("spacy",)
    service.close()
    again = make_service(tmp_path, embedder)  # prefers imported triples: none are cached
    kg = again.indexes.get(kb).kg
    assert kg is not None and kg.source_order == ("import", "spacy")  # loaded, not rebuilt
    assert again.indexes.build_kg(kb) is kg
    again.close()
