"""Upgrading from whole-index generations (CURRENT + gen-<n>/): converted to segments
without re-embedding, same results; a corrupt one is rebuilt from SQLite."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from indexes.base import Chunk
from indexes.bm25 import BM25Index
from indexes.dense import DenseIndex
from rag.indexing.manifest import read_manifest, verify
from tests.rag.indexing.test_indexing import snapshot
from tests.rag.service.test_service import corpus_records, ingest, make_service

pytestmark = pytest.mark.integration


def write_old_generation(service, collection) -> None:
    """Replace the collection's files with what the previous release wrote for it."""
    root = service.indexes.folder(collection.name)
    ids = [r["id"] for r in service.store.query(
        "SELECT id FROM chunks WHERE collection_id=? ORDER BY id", (collection.id,))]
    rows = service.store.get_chunks(ids)
    chunks = [Chunk(i, rows[i].text, rows[i].title) for i in ids]
    dense, bm25 = DenseIndex(service.embedder), BM25Index()
    dense.add(chunks)
    bm25.add(chunks)
    shutil.rmtree(root)
    folder = root / "gen-000003"
    folder.mkdir(parents=True)
    dense.save(folder)
    bm25.save(folder)
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
    (folder / "manifest.json").write_text(json.dumps({
        "manifest_version": 1, "collection_id": collection.id, "embedder": service.embedder.name,
        "dim": service.embedder.dim, "applied_seq": service.store.last_op_seq(collection),
        "files": files}))
    (root / "CURRENT").write_text(folder.name)


@pytest.fixture
def upgraded(tmp_path, embedder):
    """A data dir whose collection is in the old format; the results it gave."""
    service = make_service(tmp_path, embedder)
    kb, _, _ = ingest(service, "kb", corpus_records())
    expected = snapshot(service, kb)
    write_old_generation(service, kb)
    service.close()
    return tmp_path, expected


def test_old_generation_is_converted_without_re_embedding(upgraded, embedder, monkeypatch) -> None:
    data_dir, expected = upgraded
    calls = []
    original = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts, **kw: calls.append(len(texts))
                        or original(texts, **kw))
    service = make_service(data_dir, embedder)
    kb = service.collection("kb")
    live = service.indexes.get(kb)
    assert calls == []  # the vectors came from dense.faiss
    assert live.dense.count() == live.bm25.count() == len(corpus_records())
    root = service.indexes.folder("kb")
    assert not (root / "CURRENT").exists() and not list(root.glob("gen-*"))
    manifest = read_manifest(root)
    assert manifest["applied_seq"] == service.store.last_op_seq(kb)
    assert [s["rows"] for s in manifest["segments"]] == [len(corpus_records())]
    assert verify(root) == []
    monkeypatch.undo()
    assert snapshot(service, kb) == expected
    service.close()
    again = make_service(data_dir, embedder)  # and it stays converted
    assert snapshot(again, again.collection("kb")) == expected
    again.close()


def test_corrupt_old_generation_is_rebuilt_from_sqlite(upgraded, embedder) -> None:
    data_dir, expected = upgraded
    faiss_file = data_dir / "collections" / "kb" / "gen-000003" / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:-50])
    service = make_service(data_dir, embedder)
    kb = service.collection("kb")
    assert snapshot(service, kb) == expected
    root = service.indexes.folder("kb")
    assert not (root / "CURRENT").exists() and not list(root.glob("gen-*"))
    assert read_manifest(root)["applied_seq"] == service.store.last_op_seq(kb)
    service.close()
