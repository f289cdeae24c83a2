"""The index contract (STYLE rule 13): one suite every index backend must pass.

A backend joins by subclassing :class:`IndexContract` in its own test module and
providing a ``make_index`` fixture that returns a zero-argument factory of fresh, empty
indexes of that backend::

    class TestBM25Contract(IndexContract):
        @pytest.fixture
        def make_index(self):
            return BM25Index

A backend whose ranking needs another corpus (the knowledge-graph index needs entities
to link) may override ``CORPUS`` and ``QUERIES``; everything else is backend-agnostic:
it only uses the `Index` protocol of `indexes/base.py` and the on-disk rule that every
JSON file an index writes carries a ``format_version``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from indexes.base import Chunk, Hit, Index, Retriever
from indexes.errors import IndexFormatError

# Five clearly separated topics; ids are deliberately not 0..n-1 (chunk ids come from SQLite).
CORPUS: tuple[Chunk, ...] = (
    Chunk(11, "Photosynthesis lets green plants turn sunlight, water and carbon dioxide "
              "into sugar and oxygen inside their leaves.", "Photosynthesis"),
    Chunk(23, "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in "
              "Paris, completed in 1889.", "Eiffel Tower"),
    Chunk(37, "A volcano erupts when molten magma, gas and ash escape from a vent in the "
              "crust of the earth.", "Volcano"),
    Chunk(42, "The violin is a wooden string instrument played with a bow made of horsehair.",
          "Violin"),
    Chunk(58, "Honey bees collect nectar from flowers and store honey in wax combs in their "
              "hive.", "Honey bee"),
)

# query -> the chunk id that must rank first
QUERIES: dict[str, int] = {
    "how do plants make sugar from sunlight in their leaves": 11,
    "iron lattice tower in Paris": 23,
    "volcano magma and ash eruption": 37,
    "violin string instrument bow": 42,
    "bees making honey from nectar in a hive": 58,
}

BAD_K = (0, -1, True, 1.5, "3", None)

IndexFactory = Callable[[], Index]


class IndexContract:
    """Checks every `Index` must pass. Subclasses provide the ``make_index`` fixture."""

    CORPUS: tuple[Chunk, ...] = CORPUS
    QUERIES: dict[str, int] = QUERIES
    SCORE_TOLERANCE = 1e-5

    @pytest.fixture
    def make_index(self) -> IndexFactory:  # pragma: no cover - overridden by every backend
        raise NotImplementedError("a backend's test class must provide make_index")

    @pytest.fixture
    def filled(self, make_index: IndexFactory) -> Index:
        index = make_index()
        index.add(list(self.CORPUS))
        return index

    # -- protocol --------------------------------------------------------------
    def test_is_a_retriever_and_an_index(self, make_index: IndexFactory) -> None:
        index = make_index()
        assert isinstance(index, Retriever)
        assert isinstance(index, Index)
        assert isinstance(index.name, str) and index.name

    def test_count_and_stats(self, filled: Index) -> None:
        assert filled.count() == len(self.CORPUS)
        stats = filled.stats()
        assert isinstance(stats, dict)
        json.dumps(stats)  # JSON-able

    # -- search ----------------------------------------------------------------
    def test_search_finds_the_right_chunk(self, filled: Index) -> None:
        for query, expected in self.QUERIES.items():
            hits = filled.search(query, 3)
            assert hits, query
            assert hits[0].chunk_id == expected, (query, hits)
            assert all(isinstance(h, Hit) and h.source == filled.name for h in hits)
            assert all(isinstance(h.chunk_id, int) for h in hits)
            assert all(math.isfinite(h.score) for h in hits)

    def test_results_are_best_first_unique_and_at_most_k(self, filled: Index) -> None:
        for query in self.QUERIES:
            for k in (1, 2, len(self.CORPUS) + 10):
                hits = filled.search(query, k)
                assert len(hits) <= min(k, len(self.CORPUS))
                scores = [h.score for h in hits]
                assert scores == sorted(scores, reverse=True)
                ids = [h.chunk_id for h in hits]
                assert len(ids) == len(set(ids))
                assert set(ids) <= {c.id for c in self.CORPUS}

    def test_empty_index_returns_nothing(self, make_index: IndexFactory) -> None:
        index = make_index()
        assert index.count() == 0
        assert index.search(next(iter(self.QUERIES)), 5) == []

    @pytest.mark.parametrize("bad_k", BAD_K, ids=repr)
    def test_k_is_validated(self, filled: Index, make_index: IndexFactory, bad_k: object) -> None:
        query = next(iter(self.QUERIES))
        for index in (filled, make_index()):
            with pytest.raises((ValueError, TypeError)) as info:
                index.search(query, bad_k)  # type: ignore[arg-type]
            assert repr(bad_k) in str(info.value)

    # -- writes ----------------------------------------------------------------
    def test_incremental_add(self, make_index: IndexFactory) -> None:
        index = make_index()
        index.add(list(self.CORPUS[:2]))
        index.add(list(self.CORPUS[2:]))
        assert index.count() == len(self.CORPUS)
        for query, expected in self.QUERIES.items():
            assert index.search(query, 1)[0].chunk_id == expected

    def test_add_replaces_a_present_id(self, filled: Index) -> None:
        target = self.CORPUS[0]
        other = next(c for c in self.CORPUS if c.id != target.id)
        # Give target's id the other chunk's content: queries for that content now tie
        # between the two ids, and nothing finds the old content under target's id first.
        filled.add([Chunk(target.id, other.text, other.title)])
        assert filled.count() == len(self.CORPUS)
        old_query = next(q for q, cid in self.QUERIES.items() if cid == target.id)
        assert all(h.chunk_id != target.id for h in filled.search(old_query, 1))
        new_query = next(q for q, cid in self.QUERIES.items() if cid == other.id)
        top2 = {h.chunk_id for h in filled.search(new_query, 2)}
        assert top2 == {target.id, other.id}

    def test_delete_removes_at_once(self, filled: Index) -> None:
        victim = self.CORPUS[1]
        query = next(q for q, cid in self.QUERIES.items() if cid == victim.id)
        assert filled.search(query, 1)[0].chunk_id == victim.id
        filled.delete([victim.id])
        assert filled.count() == len(self.CORPUS) - 1
        for q in self.QUERIES:
            assert victim.id not in {h.chunk_id for h in filled.search(q, len(self.CORPUS))}

    def test_delete_unknown_ids_is_a_no_op(self, filled: Index) -> None:
        before = {q: filled.search(q, 3) for q in self.QUERIES}
        filled.delete([999_999, -5])
        filled.delete([])
        assert filled.count() == len(self.CORPUS)
        assert {q: filled.search(q, 3) for q in self.QUERIES} == before

    def test_delete_everything_then_search(self, filled: Index) -> None:
        filled.delete([c.id for c in self.CORPUS])
        assert filled.count() == 0
        assert filled.search(next(iter(self.QUERIES)), 5) == []
        filled.add([self.CORPUS[0]])
        query = next(q for q, cid in self.QUERIES.items() if cid == self.CORPUS[0].id)
        assert [h.chunk_id for h in filled.search(query, 5)] == [self.CORPUS[0].id]

    # -- persistence -----------------------------------------------------------
    def _assert_same_results(self, a: Index, b: Index) -> None:
        for query in self.QUERIES:
            hits_a, hits_b = a.search(query, len(self.CORPUS)), b.search(query, len(self.CORPUS))
            assert [h.chunk_id for h in hits_a] == [h.chunk_id for h in hits_b], query
            for x, y in zip(hits_a, hits_b, strict=True):
                assert x.score == pytest.approx(y.score, abs=self.SCORE_TOLERANCE)

    def test_save_load_round_trip(self, filled: Index, make_index: IndexFactory,
                                  tmp_path: Path) -> None:
        filled.delete([self.CORPUS[-1].id])  # a deletion must survive the round trip too
        filled.save(tmp_path)
        assert any(tmp_path.iterdir())
        loaded = make_index()
        loaded.load(tmp_path)
        assert loaded.count() == filled.count()
        self._assert_same_results(filled, loaded)
        # the loaded index stays writable
        loaded.add([self.CORPUS[-1]])
        query = next(q for q, cid in self.QUERIES.items() if cid == self.CORPUS[-1].id)
        assert loaded.search(query, 1)[0].chunk_id == self.CORPUS[-1].id

    def test_save_load_empty(self, make_index: IndexFactory, tmp_path: Path) -> None:
        make_index().save(tmp_path)
        loaded = make_index()
        loaded.load(tmp_path)
        assert loaded.count() == 0
        assert loaded.search(next(iter(self.QUERIES)), 3) == []

    def test_load_replaces_contents(self, filled: Index, make_index: IndexFactory,
                                    tmp_path: Path) -> None:
        small = make_index()
        small.add([self.CORPUS[0]])
        small.save(tmp_path)
        filled.load(tmp_path)
        assert filled.count() == 1

    def test_unknown_format_version_is_rejected(self, filled: Index, make_index: IndexFactory,
                                                tmp_path: Path) -> None:
        filled.save(tmp_path)
        versioned = []
        for path in tmp_path.rglob("*.json"):
            data = json.loads(path.read_text())
            if isinstance(data, dict) and "format_version" in data:
                data["format_version"] = 999
                path.write_text(json.dumps(data))
                versioned.append(path)
        assert versioned, "an index must write a versioned JSON manifest (STYLE rule 10)"
        with pytest.raises(IndexFormatError, match="999"):
            make_index().load(tmp_path)

    def test_load_of_an_empty_folder_is_rejected(self, make_index: IndexFactory,
                                                 tmp_path: Path) -> None:
        with pytest.raises(IndexFormatError):
            make_index().load(tmp_path)

    def test_no_pickle_files(self, filled: Index, tmp_path: Path) -> None:
        filled.save(tmp_path)
        for path in tmp_path.rglob("*"):
            assert path.suffix not in {".pkl", ".pickle", ".joblib"}, path
