"""The parts of the Ray engine that need no cluster (issue 15): precomputed vectors taken by
the sync, the rows Ray Data carries, the server's routing rule, the missing-extra error."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from indexes.base import Chunk
from indexes.errors import MissingDependencyError
from rag.indexing.precomputed import PrecomputedVectors
from rag.ingest.documents import prepare_documents
from rag.ingest.parsers import parse_records
from rag.ingest.ray_engine import added_chunk_ids, import_ray, known_hashes
from rag.ingest.ray_jobs import pending_chunk_ids, uses_ray
from rag.ingest.ray_tasks import (
    chunk_texts,
    document_row,
    join_vectors,
    parse_path_rows,
    row_document,
    split_vectors,
)
from rag.settings import IndexSettings
from tests.rag.service.test_service import corpus_records, make_service

pytestmark = pytest.mark.integration


class _Dense:
    """The encode_chunks of the real embedder, counting the chunks it embeds."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.embedded: list[int] = []

    def encode_chunks(self, chunks):
        self.embedded.extend(c.id for c in chunks)
        return self.embedder.encode([c.indexed_text for c in chunks])


def test_precomputed_vectors_are_taken_once_and_the_rest_embedded(embedder):
    chunks = [Chunk(1, "alpha beta"), Chunk(2, "gamma delta"), Chunk(3, "epsilon")]
    other = embedder.encode(["something else entirely"])
    cache = PrecomputedVectors()
    cache.put([2], other)
    dense = _Dense(embedder)
    vectors = cache.encode(dense, chunks)
    assert dense.embedded == [1, 3]  # chunk 2 came from the cache
    np.testing.assert_array_equal(vectors[1], other[0])
    np.testing.assert_allclose(vectors[[0, 2]], embedder.encode(["alpha beta", "epsilon"]), atol=1e-6)
    assert len(cache) == 0
    cache.encode(dense, chunks[1:2])  # taken already: embedded this time
    assert dense.embedded == [1, 3, 2]


def test_precomputed_vectors_refuse_mismatched_counts():
    with pytest.raises(ValueError, match="2 chunk ids"):
        PrecomputedVectors().put([1, 2], np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        PrecomputedVectors().put([1], np.zeros(4, dtype=np.float32))


def test_sync_indexes_the_vectors_put_before_it(tmp_path, embedder):
    """The sync takes a Ray job's vectors instead of embedding: the index holds exactly them."""
    service = make_service(tmp_path, embedder, index={"background_merges": False})
    try:
        kb = service.collection("kb", create=True)
        job_id, _ = service.add_documents(kb, service.parse_records(corpus_records()[:3]))
        ids = pending_chunk_ids(service.store, kb, 0)
        marked = embedder.encode([f"marker {i}" for i in ids])  # not what the chunks say
        service.indexes.vectors.put(ids, marked)
        service.run_job(job_id)
        np.testing.assert_array_equal(service.indexes.get(kb).dense.vectors_for(ids), marked)
        assert len(service.indexes.vectors) == 0
    finally:
        service.close()


def test_rows_round_trip_the_prepared_document():
    docs = prepare_documents(parse_records(corpus_records()[:2], source="api"), size=80, overlap=10)
    for doc in docs:
        row = json.loads(json.dumps(document_row(0, doc)))  # plain values only
        assert row_document(row) == doc
        assert chunk_texts(row) == [Chunk(0, doc.text[s:e], doc.title).indexed_text
                                    for s, e in doc.spans]
    vectors = np.arange(12, dtype=np.float32).reshape(6, 2)
    blobs = split_vectors(vectors, [2, 0, 4])
    assert [len(join_vectors(b, 2)) for b in blobs] == [2, 0, 4]
    np.testing.assert_array_equal(np.concatenate([join_vectors(b, 2) for b in blobs]), vectors)
    with pytest.raises(ValueError, match="6 vectors for 5 chunks"):
        split_vectors(vectors, [5])


def test_a_bad_file_becomes_one_error_row(tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    rows = parse_path_rows({"file": 3, "path": str(bad)}, size=1000, overlap=100, max_bytes=10**6)
    assert len(rows) == 1 and rows[0]["file"] == 3 and rows[0]["error"]
    missing = parse_path_rows({"file": 0, "path": str(tmp_path / "gone.txt")}, size=1000,
                              overlap=100, max_bytes=10**6)
    assert "gone.txt" in missing[0]["error"]


def test_known_hashes_and_added_chunk_ids(tmp_path, embedder):
    service = make_service(tmp_path, embedder)
    try:
        kb = service.collection("kb", create=True)
        docs = prepare_documents(parse_records(corpus_records()[:4], source="api"), size=80,
                                 overlap=10)
        results, seq = service.store.add_documents(kb, docs)
        assert known_hashes(service.store, kb) == {d.content_hash for d in docs}
        assert added_chunk_ids(service.store, kb, seq) == service.store.chunk_ids(kb)
        assert added_chunk_ids(service.store, kb, None) == []
    finally:
        service.close()


@pytest.mark.unit
def test_only_large_jobs_go_to_ray():
    ray = IndexSettings(engine="ray", ray_threshold=100)
    assert not uses_ray(IndexSettings(), 10**6)
    assert not uses_ray(ray, 99) and uses_ray(ray, 100)
    assert not uses_ray(IndexSettings(engine="ray", ray_threshold=0), 0)


@pytest.mark.unit
def test_without_ray_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(MissingDependencyError, match=r"\.\[ray\]"):
        import_ray()
    from api.cli import app

    (tmp_path / "a.txt").write_text("Some text to ingest.", encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "a.txt"), "--engine", "ray",
                                      "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert "pip install -e '.[ray]'" in result.output


@pytest.mark.unit
def test_overhead_is_the_extra_share_of_wall_time():
    from eval.ingest_bench import overhead

    assert overhead(11.5, 10.0) == 0.15
    assert overhead(9.0, 10.0) == -0.1
