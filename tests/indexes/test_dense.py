"""DenseIndex: the contract (real MiniLM + FAISS), embedder pinning and corrupt files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from indexes.base import Chunk
from indexes.dense import DenseIndex
from indexes.errors import EmbedderMismatchError, IndexFormatError
from tests.indexes.contract import CORPUS, QUERIES, IndexContract

pytestmark = pytest.mark.integration


class MemoEmbedder:
    """The real MiniLM, memoized per text: the contract re-embeds the same few sentences
    in every test, and on 2 shared cores that would dominate the suite's runtime."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.name, self.dim = inner.name, inner.dim
        self._memo: dict[str, np.ndarray] = {}

    def encode(self, texts, **kwargs) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            self._memo.update(zip(missing, self._inner.encode(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._memo[t] for t in texts])


@pytest.fixture(scope="module")
def memo_embedder(embedder) -> MemoEmbedder:
    return MemoEmbedder(embedder)


class TestDenseContract(IndexContract):
    @pytest.fixture
    def make_index(self, memo_embedder):
        return lambda: DenseIndex(memo_embedder)


class _Impostor:
    """Another embedder as far as the index can tell: a different name or dimension."""

    def __init__(self, inner, *, name: str | None = None, dim: int | None = None) -> None:
        self._inner = inner
        self.name = name or inner.name
        self.dim = dim or inner.dim

    def encode(self, texts, **kwargs):
        return self._inner.encode(texts, **kwargs)


@pytest.fixture
def saved(memo_embedder, tmp_path):
    index = DenseIndex(memo_embedder)
    index.add(list(CORPUS))
    index.save(tmp_path)
    return tmp_path


def test_constructor_is_cheap(embedder) -> None:
    index = DenseIndex(embedder)
    assert index.count() == 0
    assert index._index is None  # no FAISS object until the first write


@pytest.mark.parametrize(("name", "dim"), [("some-other-model", None), (None, 768)])
def test_embedder_mismatch_on_load(embedder, saved, name, dim) -> None:
    other = DenseIndex(_Impostor(embedder, name=name, dim=dim))
    with pytest.raises(EmbedderMismatchError) as info:
        other.load(saved)
    assert embedder.name in str(info.value)
    assert other.count() == 0  # nothing half-loaded


def test_manifest_records_the_embedder(embedder, saved) -> None:
    meta = json.loads((saved / "dense.json").read_text())
    assert meta["embedder"] == embedder.name == "all-MiniLM-L6-v2"
    assert meta["dim"] == embedder.dim == 384
    assert meta["count"] == len(CORPUS)


def test_corrupt_faiss_file_is_rejected(embedder, saved) -> None:
    (saved / "dense.faiss").write_bytes(b"garbage" * 10)
    with pytest.raises(IndexFormatError, match="dense.faiss"):
        DenseIndex(embedder).load(saved)


def test_missing_faiss_file_is_rejected(embedder, saved) -> None:
    (saved / "dense.faiss").unlink()
    with pytest.raises(IndexFormatError):
        DenseIndex(embedder).load(saved)


def test_count_disagreeing_with_manifest_is_rejected(embedder, saved) -> None:
    meta = json.loads((saved / "dense.json").read_text())
    meta["count"] += 1
    (saved / "dense.json").write_text(json.dumps(meta))
    with pytest.raises(IndexFormatError, match="manifest"):
        DenseIndex(embedder).load(saved)


def test_scores_are_cosine_similarities(embedder) -> None:
    index = DenseIndex(embedder)
    index.add(list(CORPUS))
    query = next(iter(QUERIES))
    hits = index.search(query, len(CORPUS))
    q = embedder.encode([query])[0]
    docs = embedder.encode([c.indexed_text for c in CORPUS])
    expected = {c.id: float(v @ q) for c, v in zip(CORPUS, docs, strict=True)}
    assert len(hits) == len(CORPUS)
    for hit in hits:
        assert hit.score == pytest.approx(expected[hit.chunk_id], abs=1e-4)
        assert -1.0 - 1e-5 <= hit.score <= 1.0 + 1e-5


def test_add_vectors_and_vectors_for(embedder) -> None:
    index = DenseIndex(embedder)
    vectors = index.encode_chunks(list(CORPUS))
    assert vectors.shape == (len(CORPUS), 384) and vectors.dtype == np.float32
    index.add_vectors([c.id for c in CORPUS], vectors)
    np.testing.assert_allclose(index.vectors_for([23, 11]), vectors[[1, 0]], atol=1e-6)
    hit = index.search_vector(vectors[2], 1)[0]
    assert hit.chunk_id == CORPUS[2].id and hit.score == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="2 ids for 1 vectors"):
        index.add_vectors([1, 2], vectors[:1])
    index.add_vectors([], vectors[:0])
    assert index.count() == len(CORPUS)


def test_replacing_an_id_does_not_duplicate_it(embedder) -> None:
    index = DenseIndex(embedder)
    index.add([Chunk(1, "cats purr"), Chunk(2, "dogs bark")])
    index.add([Chunk(1, "cats meow")])
    index.add([Chunk(1, "cats hiss")])
    assert index.count() == 2
    assert [h.chunk_id for h in index.search("cat", 5)].count(1) == 1
