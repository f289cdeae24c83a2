"""BM25Index: the contract, and regression gates against bm25s and rank-bm25 (STYLE rule 14)."""

from __future__ import annotations

import json

import bm25s
import numpy as np
import pytest
import Stemmer
from rank_bm25 import BM25Okapi

from indexes.base import Chunk
from indexes.bm25 import BM25Index
from indexes.errors import IndexFormatError
from tests.indexes.contract import IndexContract

pytestmark = pytest.mark.unit

# A small English corpus with overlapping vocabulary, numbers, hyphens and possessives,
# so document frequencies and length normalisation both matter.
REFERENCE_CORPUS = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "A fox is a small omnivorous mammal; foxes live in forests and cities.",
    "Dogs are loyal companions, and a well-trained dog guards the house.",
    "The river flows through the valley into the sea, carrying sediment.",
    "Banks lend money; the central bank sets interest rates for other banks.",
    "Marie Curie won the Nobel Prize in Physics in 1903 and in Chemistry in 1911.",
    "The Nobel Prize in Literature was awarded to Toni Morrison in 1993.",
    "Physics studies matter, energy, and the fundamental forces of nature.",
    "Chemistry is the study of substances, their properties and reactions.",
    "Interest rates rose sharply in 1980 as the central bank fought inflation.",
    "The lazy cat sleeps all day while the dog watches the garden.",
    "Rivers and lakes hold most of the fresh water used by cities.",
    "Quantum physics describes the energy levels of electrons in atoms.",
    "The state-of-the-art model beats the baseline on question-answering tasks.",
    "Curie's laboratory in Paris studied radioactivity and radium.",
    "Money, banks and credit: a short history of lending since 1600.",
    "Foxes and dogs both belong to the family Canidae.",
    "The sea level rose by twenty centimetres during the last century.",
]
REFERENCE_QUERIES = [
    "fox and dog",
    "central bank interest rates",
    "Nobel Prize physics",
    "river water for cities",
    "Curie radioactivity Paris",
    "energy of electrons",
    "lazy animals sleeping",
    "state-of-the-art question answering",
    "history of money lending 1600",
    "the and of",  # only stopwords
]


class TestBM25Contract(IndexContract):
    @pytest.fixture
    def make_index(self):
        return BM25Index


@pytest.fixture(scope="module")
def reference_pair():
    """Our index and a bm25s reference over the same corpus (ids 0..n-1, no titles)."""
    ours = BM25Index()
    ours.add([Chunk(i, text) for i, text in enumerate(REFERENCE_CORPUS)])
    stemmer = Stemmer.Stemmer("english")
    reference = bm25s.BM25()  # defaults: lucene, k1=1.5, b=0.75 (the same as ours)
    reference.index(bm25s.tokenize(REFERENCE_CORPUS, stopwords="en", stemmer=stemmer,
                                   show_progress=False), show_progress=False)
    return ours, reference, stemmer


def _reference_scores(reference, stemmer, query: str) -> np.ndarray:
    tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, return_ids=False,
                            show_progress=False)[0]
    known = [t for t in tokens if t in reference.vocab_dict]
    if not known:  # bm25s cannot score an empty token list
        return np.zeros(len(REFERENCE_CORPUS))
    return np.asarray(reference.get_scores(known), dtype=np.float64)


@pytest.mark.parametrize("query", REFERENCE_QUERIES)
def test_matches_bm25s_top10_and_scores(reference_pair, query: str) -> None:
    ours, reference, stemmer = reference_pair
    expected = _reference_scores(reference, stemmer, query)
    ids, scores = ours.scores(query)
    got = np.zeros(len(REFERENCE_CORPUS))
    got[ids] = scores
    np.testing.assert_allclose(got, expected, atol=1e-4)

    hits = ours.search(query, 10)
    positive = [i for i in np.argsort(-expected, kind="stable") if expected[i] > 0][:10]
    assert [h.chunk_id for h in hits] == [int(i) for i in positive] or (
        # equal scores may be ordered differently; then the scores, in order, still match
        sorted(h.chunk_id for h in hits) == sorted(int(i) for i in positive)
    )
    for hit in hits:
        assert hit.score == pytest.approx(expected[hit.chunk_id], abs=1e-4)
    if query == "the and of":
        assert hits == []


def test_tokenization_matches_bm25s_on_english(reference_pair) -> None:
    ours, _, stemmer = reference_pair
    for text in REFERENCE_CORPUS + REFERENCE_QUERIES:
        expected = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, return_ids=False,
                                  show_progress=False)[0]
        assert ours.tokenizer(text) == list(expected), text


# Clear queries: each names one topic covered by exactly three passages.
RANK_CORPUS = [
    "Glaciers are slow rivers of ice that carve valleys in mountains.",
    "Glacier ice forms from compacted snow over many years.",
    "Melting glaciers raise the sea level as the climate warms.",
    "The saxophone is a woodwind instrument made of brass.",
    "Jazz musicians often play the saxophone and the trumpet.",
    "Adolphe Sax invented the saxophone in the 1840s.",
    "Penguins are flightless birds living in the southern hemisphere.",
    "Emperor penguins breed during the Antarctic winter.",
    "Penguins swim fast and catch fish under the ice.",
    "Bread is baked from flour, water, salt and yeast.",
    "Sourdough bread rises with wild yeast instead of baker's yeast.",
    "Bakers knead the bread dough before it rises.",
]
RANK_QUERIES = {"glacier ice": {0, 1, 2}, "saxophone": {3, 4, 5}, "penguins": {6, 7, 8},
                "bread yeast": {9, 10, 11}}


@pytest.mark.parametrize("query", sorted(RANK_QUERIES))
def test_same_top3_as_rank_bm25(query: str) -> None:
    ours = BM25Index()
    ours.add([Chunk(i, text) for i, text in enumerate(RANK_CORPUS)])
    okapi = BM25Okapi([ours.tokenizer(text) for text in RANK_CORPUS])
    okapi_scores = okapi.get_scores(ours.tokenizer(query))
    okapi_top3 = {int(i) for i in np.argsort(-okapi_scores)[:3]}
    ours_top3 = {h.chunk_id for h in ours.search(query, 3)}
    assert ours_top3 == okapi_top3 == RANK_QUERIES[query]


CJK_CORPUS = [
    Chunk(1, "北京是中华人民共和国的首都，也是全国的政治和文化中心。", "北京"),
    Chunk(2, "上海是中国最大的经济中心和重要的港口城市。", "上海"),
    Chunk(3, "東京は日本の首都であり、世界最大級の都市圏を形成している。", "東京"),
    Chunk(4, "富士山は日本で最も高い山で、静岡県と山梨県にまたがる。", "富士山"),
    Chunk(5, "Paris is the capital of France and its largest city.", "Paris"),
    Chunk(6, "서울은 대한민국의 수도이다.", "서울"),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("中国的首都是哪里", 1),
        ("上海港口", 2),
        ("日本の首都はどこですか", 3),
        ("日本で一番高い山", 4),
        ("capital of France", 5),
        ("대한민국의 수도", 6),
    ],
)
def test_cjk_documents_are_found(query: str, expected: int) -> None:
    index = BM25Index()
    index.add(CJK_CORPUS)
    hits = index.search(query, 3)
    assert hits and hits[0].chunk_id == expected, hits


def test_deleted_only_term_gives_no_hits() -> None:
    index = BM25Index()
    index.add([Chunk(1, "zebras graze on the savanna"), Chunk(2, "lions hunt at night")])
    assert [h.chunk_id for h in index.search("zebra", 5)] == [1]
    index.delete([1])
    assert index.search("zebra", 5) == []  # the term stays in the vocabulary, the chunk is gone
    assert [h.chunk_id for h in index.search("lions", 5)] == [2]


def test_unknown_terms_and_empty_query_give_no_hits() -> None:
    index = BM25Index()
    index.add([Chunk(1, "zebras graze on the savanna")])
    assert index.search("quasar", 5) == []
    assert index.search("", 5) == []
    assert index.search("   ", 5) == []


def test_title_is_indexed() -> None:
    index = BM25Index()
    index.add([Chunk(1, "He was born in 1950.", "Ada Lovelace"), Chunk(2, "Born in 1960.", "Bob")])
    assert index.search("Lovelace", 2)[0].chunk_id == 1


def test_ties_are_broken_by_chunk_id() -> None:
    index = BM25Index()
    index.add([Chunk(9, "apple pie"), Chunk(3, "apple pie"), Chunk(5, "apple pie")])
    assert [h.chunk_id for h in index.search("apple", 3)] == [3, 5, 9]


@pytest.mark.parametrize(("k1", "b"), [(-0.1, 0.75), (1.2, -0.1), (1.2, 1.5)])
def test_parameters_are_validated(k1: float, b: float) -> None:
    with pytest.raises(ValueError, match="k1"):
        BM25Index(k1=k1, b=b)


def test_parameters_survive_save_load(tmp_path) -> None:
    index = BM25Index(k1=0.9, b=0.4)
    index.add([Chunk(1, "alpha beta"), Chunk(2, "alpha alpha gamma delta")])
    index.save(tmp_path)
    loaded = BM25Index()
    loaded.load(tmp_path)
    assert (loaded.k1, loaded.b) == (0.9, 0.4)
    assert [(h.chunk_id, round(h.score, 6)) for h in loaded.search("alpha", 2)] == [
        (h.chunk_id, round(h.score, 6)) for h in index.search("alpha", 2)]


def test_inconsistent_files_are_rejected(tmp_path) -> None:
    index = BM25Index()
    index.add([Chunk(1, "alpha beta"), Chunk(2, "gamma")])
    index.save(tmp_path)
    meta = json.loads((tmp_path / "bm25.json").read_text())
    meta["count"] = 5
    (tmp_path / "bm25.json").write_text(json.dumps(meta))
    with pytest.raises(IndexFormatError, match="disagree"):
        BM25Index().load(tmp_path)


def test_corrupt_array_is_rejected(tmp_path) -> None:
    index = BM25Index()
    index.add([Chunk(1, "alpha beta")])
    index.save(tmp_path)
    (tmp_path / "bm25_terms.npy").write_bytes(b"not numpy")
    with pytest.raises(IndexFormatError, match="bm25_terms"):
        BM25Index().load(tmp_path)


def test_not_json_manifest_is_rejected(tmp_path) -> None:
    BM25Index().save(tmp_path)
    (tmp_path / "bm25.json").write_text("{oops")
    with pytest.raises(IndexFormatError, match="not valid JSON"):
        BM25Index().load(tmp_path)
