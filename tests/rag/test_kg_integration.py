"""The knowledge graph as a collection index: built on first `hipporag` use, kept in step
with later ingests and deletes, and persisted (its own folder, named by the manifest)."""

from __future__ import annotations

import pytest

from rag.indexing.manifest import read_manifest
from tests.rag.service.test_service import corpus_records, ingest, make_service

pytestmark = pytest.mark.integration


def documents(service, collection, query: str) -> list[str]:
    found = service.retrieve(collection, query, retriever="hipporag", top_k=3)
    passages, trace = found.passages, found.trace
    assert trace["retriever"] == "hipporag" and "kg" in trace
    return [p.document_id for p in passages]


def test_graph_lifecycle(tmp_path, embedder) -> None:
    records = corpus_records()
    service = make_service(tmp_path, embedder)
    kb, _, _ = ingest(service, "kb", records[:-2])
    live = service.indexes.get(kb)
    assert live.kg is None  # no OpenIE cost until the graph is asked for
    assert documents(service, kb, "board game with 64 squares")[0] == "chess"
    assert live.kg is not None and live.kg.count() == len(records) - 2
    root = service.indexes.folder("kb")
    kg_folder = read_manifest(root)["kg"]["folder"]
    assert (root / kg_folder / "kg.json").exists()

    ingest(service, "kb", records[-2:])  # a graph that exists is kept up to date
    assert live.kg.count() == len(records)

    job = service.delete_document(kb, "chess")
    service.run_job(job)
    assert "chess" not in documents(service, kb, "board game with 64 squares")
    phrases = live.kg.stats()["phrases"]

    service.close()
    again = make_service(tmp_path, embedder)
    kb = again.collection("kb")
    reloaded = again.indexes.get(kb).kg
    assert reloaded is not None and reloaded.count() == len(records) - 1
    assert reloaded.stats()["phrases"] == phrases
    assert "chess" not in documents(again, kb, "board game with 64 squares")
